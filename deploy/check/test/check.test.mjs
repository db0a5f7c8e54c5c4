// check.test.mjs - the checkers catch what they are for: each test breaks one thing in the
// real manifests (deploy/k8s/base, docker-compose.yml, Dockerfile) and expects the
// violation to be named. Run by `make deploy-check` (node --test).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { checkCompose, checkDockerfile, checkKubernetes, checkServiceKeys, loadPolicy } from '../rules.mjs';
import { validateObjects } from '../validate.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const policy = loadPolicy(repo);

// deploy/k8s/base as an overlay would render it: images tagged, the generated ConfigMap.
function baseObjects() {
    const dir = path.join(repo, 'deploy', 'k8s', 'base');
    const objects = fs.readdirSync(dir)
        .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
        .flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS()))
        .filter(Boolean);
    const kustomization = YAML.parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
    const literals = kustomization.configMapGenerator[0].literals;
    objects.push({
        apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'secure-backend-env' },
        data: Object.fromEntries(literals.map((l) => l.split(/=(.*)/s).slice(0, 2))),
    });
    for (const o of objects) {
        for (const c of [...(o.spec?.template?.spec?.containers ?? []), ...(o.spec?.template?.spec?.initContainers ?? [])]) {
            c.image = 'secure-backend:test';
        }
    }
    return objects;
}

const find = (objects, kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const pod = (objects, name) => find(objects, 'Deployment', name).spec.template.spec;
const container = (objects, name) => pod(objects, name).containers[0];

// Breaks a fresh copy of base with fn; the problems must include one matching want.
function k8sFails(fn, want) {
    const objects = baseObjects();
    fn(objects);
    const problems = checkKubernetes('test', objects, policy);
    assert.ok(problems.some((p) => want.test(p)), `expected ${want} among:\n  ${problems.join('\n  ') || '(no problems)'}`);
}

function composeDoc() {
    return YAML.parse(fs.readFileSync(path.join(repo, 'docker-compose.yml'), 'utf8'), { merge: true });
}

function composeFails(fn, want) {
    const doc = composeDoc();
    fn(doc);
    const problems = checkCompose(doc, policy);
    assert.ok(problems.some((p) => want.test(p)), `expected ${want} among:\n  ${problems.join('\n  ') || '(no problems)'}`);
}

test('the manifests as they are pass every rule', () => {
    assert.deepEqual(checkKubernetes('base', baseObjects(), policy), []);
    assert.deepEqual(checkCompose(composeDoc(), policy), []);
    assert.deepEqual(checkDockerfile(fs.readFileSync(path.join(repo, 'Dockerfile'), 'utf8')), []);
    assert.deepEqual(checkServiceKeys(repo, policy), []);
});

test('only the gateway is exposed', () => {
    k8sFails((o) => { find(o, 'Service', 'missions').spec.type = 'LoadBalancer'; }, /Service\/missions: type LoadBalancer/);
    k8sFails((o) => { find(o, 'Service', 'gateway').spec.type = 'NodePort'; }, /Service\/gateway: type NodePort/);
    k8sFails((o) => { delete find(o, 'Service', 'audit').spec.clusterIP; }, /Service\/audit: a backend's Service must be headless/);
    k8sFails((o) => { find(o, 'Ingress', 'gateway').spec.rules[0].http.paths[0].backend.service.name = 'auth'; },
        /Ingress\/gateway: leads to auth, not the gateway/);
    k8sFails((o) => { pod(o, 'privacy').hostNetwork = true; }, /Deployment\/privacy: hostNetwork/);
    k8sFails((o) => { container(o, 'audit').ports[0].hostPort = 7105; }, /container audit: hostPort 7105/);
    k8sFails((o) => { find(o, 'NetworkPolicy', 'evidence').spec.ingress[0].from.push({ ipBlock: { cidr: '0.0.0.0/0' } }); },
        /NetworkPolicy\/evidence: lets ipBlock 0.0.0.0\/0 reach evidence/);
    composeFails((d) => { d.services.missions.ports = ['7102:7102']; }, /compose: missions: publishes ports/);
    composeFails((d) => { d.services.audit.networks = ['internal', 'edge']; }, /compose: audit: on network edge, which is not internal/);
    composeFails((d) => { d.services.redis.network_mode = 'host'; }, /compose: redis: network_mode host/);
});

test('every container has the security context', () => {
    k8sFails((o) => { delete container(o, 'missions').securityContext.readOnlyRootFilesystem; }, /Deployment\/missions container missions: readOnlyRootFilesystem/);
    k8sFails((o) => {
        // No Deployment has an init container: give auth one, to see that those are checked too
        const spec = pod(o, 'auth');
        spec.initContainers = [{ ...JSON.parse(JSON.stringify(spec.containers[0])), name: 'setup' }];
        spec.initContainers[0].securityContext.allowPrivilegeEscalation = true;
    }, /Deployment\/auth container setup: allowPrivilegeEscalation/);
    k8sFails((o) => { container(o, 'gateway').securityContext.capabilities = { drop: ['NET_RAW'] }; }, /container gateway: capabilities are not dropped/);
    k8sFails((o) => { container(o, 'evidence').securityContext.capabilities.add = ['NET_BIND_SERVICE']; }, /container evidence: adds capabilities NET_BIND_SERVICE/);
    k8sFails((o) => { delete container(o, 'audit').securityContext.runAsNonRoot; delete pod(o, 'audit').securityContext.runAsNonRoot; }, /container audit: runAsNonRoot/);
    k8sFails((o) => { delete container(o, 'privacy').securityContext.seccompProfile; delete pod(o, 'privacy').securityContext.seccompProfile; }, /container privacy: seccompProfile/);
    k8sFails((o) => { delete pod(o, 'missions').automountServiceAccountToken; }, /Deployment\/missions: automountServiceAccountToken/);
    k8sFails((o) => { pod(o, 'evidence').volumes.push({ name: 'host', hostPath: { path: '/' } }); }, /hostPath volume host/);
    k8sFails((o) => { container(o, 'auth').image = 'secure-backend:latest'; }, /container auth: image 'secure-backend:latest'/);
    composeFails((d) => { delete d.services.missions.cap_drop; }, /compose: missions: capabilities are not dropped/);
    composeFails((d) => { d.services.auth.read_only = false; }, /compose: auth: read_only/);
    composeFails((d) => { delete d.services.gateway.user; }, /compose: gateway: runs as root/);
    composeFails((d) => { d.services.privacy.user = d.services.missions.user; }, /compose: privacy: shares user/);
    composeFails((d) => { d.services.keys.cap_add.push('SYS_ADMIN'); }, /compose: keys: adds capability SYS_ADMIN/);
    assert.match(checkDockerfile('FROM debian:bookworm AS b\nFROM debian:bookworm-slim\nUSER root\nCMD ["gateway"]\n').join(), /USER 'root'/);
});

test('every backend has its NetworkPolicy, with exactly its links', () => {
    k8sFails((o) => o.splice(o.indexOf(find(o, 'NetworkPolicy', 'evidence')), 1), /Deployment\/evidence: no NetworkPolicy of its own/);
    k8sFails((o) => o.splice(o.indexOf(find(o, 'NetworkPolicy', 'default-deny')), 1), /no default-deny NetworkPolicy/);
    k8sFails((o) => {
        find(o, 'NetworkPolicy', 'auth').spec.ingress[0].from.push({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'missions' } } });
    }, /let missions reach auth, which common\/cm_svc.c does not admit/);
    k8sFails((o) => { find(o, 'NetworkPolicy', 'audit').spec.ingress[0].from.pop(); }, /keep privacy from audit, which common\/cm_svc.c admits/);
    k8sFails((o) => { delete find(o, 'NetworkPolicy', 'missions').spec.ingress[0].from; }, /NetworkPolicy\/missions: lets anyone reach missions/);
    k8sFails((o) => { find(o, 'NetworkPolicy', 'missions').spec.egress.push({ ports: [{ port: 443, protocol: 'TCP' }] }); },
        /NetworkPolicy\/missions: lets missions reach port 443 anywhere/);
    k8sFails((o) => {
        find(o, 'NetworkPolicy', 'evidence').spec.egress.push({ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'auth' } } }], ports: [{ port: 7101 }] });
    }, /let evidence reach auth, which it does not call/);
    k8sFails((o) => { find(o, 'NetworkPolicy', 'gateway').spec.egress.shift(); }, /keep gateway from auth, which it calls/);
    k8sFails((o) => { delete find(o, 'NetworkPolicy', 'privacy').spec.egress[0].ports; }, /egress rule for privacy open on every port/);
});

test('every Deployment has probes that test the service, limits, an HPA and a PDB', () => {
    k8sFails((o) => { delete container(o, 'privacy').readinessProbe; }, /Deployment\/privacy container privacy: no readinessProbe/);
    k8sFails((o) => { delete container(o, 'gateway').livenessProbe; }, /Deployment\/gateway container gateway: no livenessProbe/);
    k8sFails((o) => { container(o, 'missions').livenessProbe = { tcpSocket: { port: 7102 } }; }, /livenessProbe must run zping --service missions --as missions/);
    k8sFails((o) => { container(o, 'evidence').readinessProbe.exec.command[2] = 'audit'; }, /readinessProbe must run zping --service evidence/);
    k8sFails((o) => { container(o, 'gateway').readinessProbe.httpGet.path = '/healthz'; }, /readinessProbe must GET \/readyz/);
    k8sFails((o) => { delete container(o, 'audit').resources.limits.memory; }, /container audit: no memory limit/);
    k8sFails((o) => { delete container(o, 'auth').resources.requests; }, /container auth: no cpu request/);
    k8sFails((o) => o.splice(o.indexOf(find(o, 'HorizontalPodAutoscaler', 'audit')), 1), /Deployment\/audit: no HorizontalPodAutoscaler/);
    k8sFails((o) => o.splice(o.indexOf(find(o, 'PodDisruptionBudget', 'gateway')), 1), /Deployment\/gateway: no PodDisruptionBudget/);
    composeFails((d) => { d.services.evidence.healthcheck.test = ['CMD', 'true']; }, /compose: evidence: health check must run zping/);
    composeFails((d) => { d.services.gateway.healthcheck.test = ['CMD', 'true']; }, /compose: gateway: health check does not ask \/readyz/);
    composeFails((d) => { d.services.gateway.depends_on = ['auth']; }, /compose: gateway: depends_on without conditions/);
});

test('no secret in the manifests', () => {
    k8sFails((o) => o.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' }, data: { a: 'Yg==' } }), /Secret\/x: Secret objects do not belong/);
    k8sFails((o) => { container(o, 'missions').env.push({ name: 'DATABASE_PASSWORD', value: 'hunter2hunter2hunter2' }); }, /DATABASE_PASSWORD has a literal value/);
    k8sFails((o) => { container(o, 'auth').env.push({ name: 'SMTP_PASSWORD', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }); }, /SMTP_PASSWORD comes from a Secret as an environment variable/);
    k8sFails((o) => { find(o, 'ConfigMap', 'secure-backend-env').data.REDIS_URL = 'redis://default:hunter2@redis:6379/0'; }, /REDIS_URL holds a URL with a password/);
    k8sFails((o) => { find(o, 'ConfigMap', 'secure-backend-env').data.CA = ['-----BEGIN', 'PRIVATE KEY-----'].join(' ') + '\nAAAA\n'; }, /a PEM block/);
    composeFails((d) => { d.services.auth.environment.REDIS_PASSWORD = 'hunter2'; }, /compose: auth: REDIS_PASSWORD is set in the environment/);
    composeFails((d) => { d.services.postgres.environment.POSTGRES_PASSWORD = 'hunter2'; }, /compose: postgres: POSTGRES_PASSWORD is set/);
});

test('configuration agrees with common/cm_svc.c', () => {
    k8sFails((o) => { container(o, 'auth').env.find((e) => e.name === 'ALLOWED_PEERS').value = 'gateway,privacy,auth,missions'; }, /Deployment\/auth: ALLOWED_PEERS is/);
    k8sFails((o) => { container(o, 'missions').env.find((e) => e.name === 'MISSIONS_BIND').value = 'tcp://0.0.0.0:7999'; }, /MISSIONS_BIND 'tcp:\/\/0.0.0.0:7999' is not on port 7102/);
    composeFails((d) => { d.services.evidence.environment.ALLOWED_PEERS = 'gateway'; }, /compose: evidence: ALLOWED_PEERS is not/);
    // deploy/service-keys.sh handing out a key along a link cm_svc.c does not have
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-check-'));
    fs.mkdirSync(path.join(dir, 'deploy'));
    fs.mkdirSync(path.join(dir, 'common'));
    fs.copyFileSync(path.join(repo, 'common', 'cm_svc.c'), path.join(dir, 'common', 'cm_svc.c'));
    fs.writeFileSync(path.join(dir, 'deploy', 'service-keys.sh'),
        fs.readFileSync(path.join(repo, 'deploy', 'service-keys.sh'), 'utf8').replace('privacy) echo "gateway privacy" ;;', 'privacy) echo "gateway privacy missions" ;;'));
    try {
        assert.match(checkServiceKeys(dir, policy).join('\n'), /svc_admits privacy is 'gateway privacy missions'/);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test('schema validation catches wrong types, misspelt fields and unknown kinds', () => {
    const objects = baseObjects().map((obj) => ({ obj, where: 'base' }));
    assert.deepEqual(validateObjects(objects), []);
    const broken = structuredClone(find(baseObjects(), 'Deployment', 'missions'));
    broken.spec.replicas = 'three';
    broken.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    broken.spec.template.spec.containers[0].resources.limits.memory = '1 gigabyte';
    const problems = validateObjects([{ obj: broken, where: 'test' }, { obj: { apiVersion: 'v1', kind: 'Sercet', metadata: { name: 'x' } }, where: 'test' }]);
    const text = problems.join('\n');
    assert.match(text, /spec\/replicas must be integer/);
    assert.match(text, /unknown field spec.template.spec.containers\[0\].securityContext.readOnlyRootFileSystem/);
    assert.match(text, /limits\/memory must match format "quantity"/);
    assert.match(text, /no schema for v1 Sercet/);
});
