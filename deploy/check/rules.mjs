// rules.mjs - the project's deployment rules, checked on what would really be applied.
//
//   node rules.mjs --repo DIR [--compose FILE] [--k8s NAME=RENDERED.yaml]... [--dockerfile FILE]
//
// Kubernetes (a rendered overlay, as `kubectl kustomize` prints it):
//   exposure   only the gateway is reachable from outside: no NodePort, LoadBalancer or
//              external IP, no host network or ports, every Ingress leads to the gateway,
//              backends have headless Services, no NetworkPolicy lets the world in anywhere
//              but the gateway
//   security   every container (init containers too) runs as non-root with a read-only
//              root, no privilege escalation, all capabilities dropped, seccomp
//              RuntimeDefault; no service-account token mounted; no hostPath
//   network    a default-deny policy; every backend admits exactly the peers
//              common/cm_svc.c lets in, and every service reaches out to exactly DNS, the
//              backends it calls, PostgreSQL (backends) and Redis (gateway, auth)
//   workloads  every container has readiness and liveness probes that exercise the
//              service (bin/zping at itself; the gateway's /readyz and /healthz), CPU and
//              memory requests and limits; every Deployment an HPA and a PDB
//   secrets    no Secret object, no PEM block, no literal value for a password, key or
//              token variable, no password in a URL: secrets are only ever referenced
//   config     ALLOWED_PEERS, binds and Service ports agree with common/cm_svc.c; images
//              carry a tag other than latest
// docker-compose.yml: only the gateway publishes a port; the rest is on internal networks;
// every container read-only, capabilities dropped, no-new-privileges, non-root (the key
// job excepted); health checks that exercise each service; no secret values.
// Dockerfile: runs as a fixed non-root user on debian:bookworm-slim.
// deploy/service-keys.sh: hands out keys along the same links as common/cm_svc.c.
//
// Exit 0 when every rule holds; 1 with one line per violation, naming the object.

import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

// ---------------------------------------------------------------------------------------
// The link policy, read from the C source that enforces it.

export function loadPolicy(repo) {
    const source = fs.readFileSync(path.join(repo, 'common', 'cm_svc.c'), 'utf8');
    const row = /\[CM_SVC_\w+\]\s*=\s*\{\s*"(\w+)",\s*(\d+),\s*"([^"]*)",\s*"([^"]*)"\s*\}/g;
    const services = {};
    for (const m of source.matchAll(row)) {
        services[m[1]] = {
            port: Number(m[2]),
            peers: m[3] ? m[3].split(',') : [],
            identity: m[4] ? m[4].split(',') : [],
        };
    }
    if (!services.gateway || Object.keys(services).length < 2) {
        throw new Error('cannot read the service table in common/cm_svc.c');
    }
    const backends = Object.keys(services).filter((s) => services[s].port > 0);
    const calls = {};
    for (const s of Object.keys(services)) {
        calls[s] = backends.filter((t) => services[t].peers.includes(s));
    }
    return { services, backends, calls };
}

const sameSet = (a, b) => a.length === b.length && [...a].sort().join() === [...b].sort().join();
const SECRET_NAME = /(PASSWORD|SECRET|TOKEN|_KEY|PRIVATE)$/i;
const URL_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@:]+:[^/@]+@/i;
const PEM = /-----BEGIN [A-Z ]+-----/;

// ---------------------------------------------------------------------------------------
// Kubernetes

const POD_OWNERS = {
    Deployment: (o) => o.spec?.template,
    StatefulSet: (o) => o.spec?.template,
    DaemonSet: (o) => o.spec?.template,
    ReplicaSet: (o) => o.spec?.template,
    Job: (o) => o.spec?.template,
    CronJob: (o) => o.spec?.jobTemplate?.spec?.template,
    Pod: (o) => o,
};

const appName = (labels) => labels?.['app.kubernetes.io/name'];
const matches = (selector, labels) =>
    Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

function envOf(container) {
    const env = {};
    for (const e of container.env ?? []) env[e.name] = e;
    return env;
}

function checkContainer(id, c, pod, problems) {
    const sc = c.securityContext ?? {};
    const psc = pod.securityContext ?? {};
    const where = `${id} container ${c.name}`;
    if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot is not true`);
    if ((sc.runAsUser ?? psc.runAsUser) === 0) problems.push(`${where}: runs as user 0`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (sc.privileged === true) problems.push(`${where}: privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: capabilities are not dropped (drop: [ALL])`);
    if ((sc.capabilities?.add ?? []).length) problems.push(`${where}: adds capabilities ${sc.capabilities.add.join(',')}`);
    if ((sc.seccompProfile ?? psc.seccompProfile)?.type !== 'RuntimeDefault') {
        problems.push(`${where}: seccompProfile is not RuntimeDefault`);
    }
    for (const p of c.ports ?? []) {
        if (p.hostPort) problems.push(`${where}: hostPort ${p.hostPort}`);
    }
    const image = c.image ?? '';
    if (!/@sha256:/.test(image) && (!/:[^/]+$/.test(image) || /:latest$/.test(image))) {
        problems.push(`${where}: image '${image}' has no tag (or is latest)`);
    }
    for (const [name, e] of Object.entries(envOf(c))) {
        if (e.value !== undefined && SECRET_NAME.test(name)) {
            problems.push(`${where}: ${name} has a literal value; give the service a file (${name}_FILE) from a Secret`);
        }
        if (e.valueFrom?.secretKeyRef) {
            problems.push(`${where}: ${name} comes from a Secret as an environment variable; mount it as a file`);
        }
        if (typeof e.value === 'string' && URL_PASSWORD.test(e.value)) {
            problems.push(`${where}: ${name} holds a URL with a password`);
        }
    }
}

function probeProblems(where, svc, c, policy) {
    const problems = [];
    for (const kind of ['readinessProbe', 'livenessProbe']) {
        const probe = c[kind];
        if (!probe) {
            problems.push(`${where}: no ${kind}`);
            continue;
        }
        if (svc === 'gateway') {
            const want = kind === 'readinessProbe' ? '/readyz' : '/healthz';
            if (probe.httpGet?.path !== want) problems.push(`${where}: ${kind} must GET ${want}`);
        } else if (policy.backends.includes(svc)) {
            const cmd = probe.exec?.command ?? [];
            const arg = (flag) => cmd[cmd.indexOf(flag) + 1];
            if (!/(^|\/)zping$/.test(cmd[0] ?? '') || arg('--service') !== svc || arg('--as') !== svc) {
                problems.push(`${where}: ${kind} must run zping --service ${svc} --as ${svc} (against the pod itself)`);
            }
        }
    }
    const r = c.resources ?? {};
    for (const part of ['requests', 'limits']) {
        for (const res of ['cpu', 'memory']) {
            if (r[part]?.[res] === undefined) problems.push(`${where}: no ${res} ${part.slice(0, -1)}`);
        }
    }
    return problems;
}

// Who a NetworkPolicy peer list names: service names, or a reason it is too wide.
function peersOf(list) {
    if (!list || list.length === 0) return { anywhere: true, names: [], other: [] };
    const names = [];
    const other = [];
    for (const peer of list) {
        if (peer.ipBlock) other.push(`ipBlock ${peer.ipBlock.cidr}`);
        else if (peer.namespaceSelector) {
            const ns = peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name'];
            const pod = peer.podSelector?.matchLabels?.['k8s-app'];
            other.push(ns === 'kube-system' && pod === 'kube-dns' ? 'dns' : `namespace ${ns ?? '(any)'}`);
        } else if (peer.podSelector) {
            const n = appName(peer.podSelector.matchLabels);
            if (n) names.push(n);
            else other.push('every pod of the namespace');
        }
    }
    return { anywhere: false, names, other };
}

export function checkKubernetes(name, objects, policy) {
    const problems = [];
    const id = (o) => `${name}: ${o.kind}/${o.metadata?.name}`;
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    const text = YAML.stringify(objects);

    // secrets
    for (const o of objects) {
        if (o.kind === 'Secret') problems.push(`${id(o)}: Secret objects do not belong in the manifests (scripts/k8s-secrets.sh makes them)`);
        if (o.kind === 'ConfigMap') {
            for (const [k, v] of Object.entries(o.data ?? {})) {
                if (SECRET_NAME.test(k)) problems.push(`${id(o)}: ${k} looks like a secret`);
                if (URL_PASSWORD.test(v)) problems.push(`${id(o)}: ${k} holds a URL with a password`);
            }
        }
    }
    if (PEM.test(text)) problems.push(`${name}: a PEM block (key or certificate) is in the manifests`);

    // exposure
    for (const o of objects.filter((x) => x.kind === 'Service')) {
        const target = appName(o.spec?.selector);
        if (o.spec?.type && o.spec.type !== 'ClusterIP') problems.push(`${id(o)}: type ${o.spec.type} exposes it outside the cluster`);
        if ((o.spec?.externalIPs ?? []).length) problems.push(`${id(o)}: externalIPs`);
        if (target !== 'gateway' && o.spec?.clusterIP !== 'None') {
            problems.push(`${id(o)}: a backend's Service must be headless (clusterIP: None)`);
        }
    }
    for (const o of objects.filter((x) => x.kind === 'Ingress')) {
        const backends = [o.spec?.defaultBackend, ...(o.spec?.rules ?? []).flatMap((r) => (r.http?.paths ?? []).map((p) => p.backend))];
        for (const b of backends.filter(Boolean)) {
            if (b.service?.name !== 'gateway') problems.push(`${id(o)}: leads to ${b.service?.name ?? 'a resource'}, not the gateway`);
        }
    }

    // pods
    const pods = [];
    for (const o of objects) {
        const template = POD_OWNERS[o.kind]?.(o);
        if (!template) continue;
        const spec = template.spec ?? {};
        pods.push({ o, labels: template.metadata?.labels ?? {}, spec });
        if (spec.automountServiceAccountToken !== false) problems.push(`${id(o)}: automountServiceAccountToken is not false`);
        for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) {
            if (spec[k]) problems.push(`${id(o)}: ${k}`);
        }
        for (const v of spec.volumes ?? []) {
            if (v.hostPath) problems.push(`${id(o)}: hostPath volume ${v.name}`);
        }
        for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) checkContainer(id(o), c, spec, problems);
    }

    // workloads
    for (const d of deployments) {
        const spec = d.spec?.template?.spec ?? {};
        const labels = d.spec?.template?.metadata?.labels ?? {};
        const svc = appName(labels);
        for (const c of spec.containers ?? []) problems.push(...probeProblems(`${id(d)} container ${c.name}`, svc, c, policy));
        if (!hpas.some((h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec.scaleTargetRef.name === d.metadata.name)) {
            problems.push(`${id(d)}: no HorizontalPodAutoscaler`);
        }
        if (!pdbs.some((p) => p.spec?.selector?.matchLabels && matches(p.spec.selector.matchLabels, labels))) {
            problems.push(`${id(d)}: no PodDisruptionBudget`);
        }
        // config agrees with common/cm_svc.c
        const main = (spec.containers ?? []).find((c) => c.name === svc) ?? spec.containers?.[0];
        const env = main ? envOf(main) : {};
        if (policy.backends.includes(svc)) {
            const want = [...policy.services[svc].peers, svc];
            const got = (env.ALLOWED_PEERS?.value ?? '').split(',').filter(Boolean);
            if (!sameSet(got, want)) problems.push(`${id(d)}: ALLOWED_PEERS is '${got.join(',')}', common/cm_svc.c and the probe want '${want.join(',')}'`);
            if (env.IDENTITY_PEERS && !sameSet(env.IDENTITY_PEERS.value.split(','), policy.services[svc].identity)) {
                problems.push(`${id(d)}: IDENTITY_PEERS differs from common/cm_svc.c`);
            }
            const bind = env[`${svc.toUpperCase()}_BIND`]?.value ?? '';
            if (!bind.endsWith(`:${policy.services[svc].port}`)) problems.push(`${id(d)}: ${svc.toUpperCase()}_BIND '${bind}' is not on port ${policy.services[svc].port}`);
            const service = objects.find((o) => o.kind === 'Service' && appName(o.spec?.selector) === svc);
            if (!service) problems.push(`${id(d)}: no Service`);
            else if (!(service.spec.ports ?? []).some((p) => p.port === policy.services[svc].port)) {
                problems.push(`${id(service)}: does not serve port ${policy.services[svc].port}`);
            }
        }
    }

    // network
    if (!policies.some((p) => Object.keys(p.spec?.podSelector ?? {}).length === 0 &&
        sameSet(p.spec?.policyTypes ?? [], ['Ingress', 'Egress']) && !p.spec.ingress && !p.spec.egress)) {
        problems.push(`${name}: no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)`);
    }
    for (const { o, labels } of pods) {
        const svc = appName(labels);
        const selecting = policies.filter((p) => matches(p.spec?.podSelector?.matchLabels, labels) &&
            (p.spec?.podSelector?.matchExpressions ?? []).length === 0);
        // ingress
        const ingress = selecting.filter((p) => (p.spec.policyTypes ?? ['Ingress']).includes('Ingress'));
        if (policy.backends.includes(svc) && !ingress.some((p) => appName(p.spec.podSelector.matchLabels) === svc)) {
            problems.push(`${id(o)}: no NetworkPolicy of its own for ingress`);
        }
        const admitted = new Set();
        for (const p of ingress) {
            for (const rule of p.spec.ingress ?? []) {
                const who = peersOf(rule.from);
                if (svc !== 'gateway') {
                    if (who.anywhere) problems.push(`${id(p)}: lets anyone reach ${svc}`);
                    for (const x of who.other) problems.push(`${id(p)}: lets ${x} reach ${svc}`);
                }
                if (!rule.ports?.length) problems.push(`${id(p)}: an ingress rule for ${svc} open on every port`);
                for (const n of who.names) admitted.add(n);
            }
        }
        if (policy.backends.includes(svc)) {
            const want = policy.services[svc].peers;
            const extra = [...admitted].filter((n) => !want.includes(n));
            const missing = want.filter((n) => !admitted.has(n));
            if (extra.length) problems.push(`${name}: NetworkPolicies let ${extra.join(', ')} reach ${svc}, which common/cm_svc.c does not admit`);
            if (missing.length) problems.push(`${name}: NetworkPolicies keep ${missing.join(', ')} from ${svc}, which common/cm_svc.c admits`);
        }
        // egress
        if (!svc || !(svc in policy.services)) continue;
        const egress = selecting.concat(policies.filter((p) => Object.keys(p.spec?.podSelector ?? {}).length === 0))
            .filter((p, i, all) => all.indexOf(p) === i && (p.spec.policyTypes ?? []).includes('Egress'));
        const reaches = new Set();
        const openPorts = new Set([...(policy.backends.includes(svc) ? [5432] : []), ...(['gateway', 'auth'].includes(svc) ? [6379] : [])]);
        // auth alone may reach an SMTP relay, a breached-password API and sign-in
        // providers (SMTP_URL, BREACHED_PASSWORD_RANGE_URL, OIDC_<NAME>_ISSUER are auth's
        // settings in common/cm_config.c)
        if (svc === 'auth') [465, 587, 443].forEach((p) => openPorts.add(p));
        for (const p of egress) {
            for (const rule of p.spec.egress ?? []) {
                const to = peersOf(rule.to);
                const ports = (rule.ports ?? []).map((x) => x.port);
                if (!ports.length) {
                    problems.push(`${id(p)}: an egress rule for ${svc} open on every port`);
                    continue;
                }
                if (to.anywhere) {
                    for (const port of ports) {
                        if (!openPorts.has(port)) problems.push(`${id(p)}: lets ${svc} reach port ${port} anywhere`);
                    }
                }
                for (const x of to.other) {
                    if (x !== 'dns' || ports.some((q) => q !== 53)) problems.push(`${id(p)}: lets ${svc} reach ${x}`);
                }
                for (const n of to.names) reaches.add(n);
            }
        }
        const want = policy.calls[svc];
        const extra = [...reaches].filter((n) => !want.includes(n));
        const missing = want.filter((n) => !reaches.has(n));
        if (extra.length) problems.push(`${name}: NetworkPolicies let ${svc} reach ${extra.join(', ')}, which it does not call`);
        if (missing.length) problems.push(`${name}: NetworkPolicies keep ${svc} from ${missing.join(', ')}, which it calls`);
    }
    for (const b of policy.backends) {
        if (!deployments.some((d) => appName(d.spec?.template?.metadata?.labels) === b)) problems.push(`${name}: no Deployment for ${b}`);
    }
    return problems;
}

// ---------------------------------------------------------------------------------------
// docker-compose.yml

export function checkCompose(doc, policy, raw = '') {
    const problems = [];
    const services = doc.services ?? {};
    const networks = doc.networks ?? {};
    const users = new Map();
    if (PEM.test(raw)) problems.push('compose: a PEM block (key or certificate) is in the file');
    for (const [name, s] of Object.entries(services)) {
        const where = `compose: ${name}`;
        const command = [].concat(s.command ?? []);
        const program = policy.services[command[0]] ? command[0] : null;
        if (s.ports?.length && program !== 'gateway') problems.push(`${where}: publishes ports; only the gateway may`);
        if (s.network_mode && s.network_mode !== 'none') problems.push(`${where}: network_mode ${s.network_mode}`);
        if (!s.network_mode) {
            const nets = Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {});
            if (!nets.length) problems.push(`${where}: on the default network; name an internal one`);
            for (const n of nets) {
                if (networks[n]?.internal !== true && program !== 'gateway') problems.push(`${where}: on network ${n}, which is not internal`);
            }
        }
        if (s.read_only !== true) problems.push(`${where}: read_only is not true`);
        if (!(s.cap_drop ?? []).includes('ALL')) problems.push(`${where}: capabilities are not dropped (cap_drop: [ALL])`);
        if (!(s.security_opt ?? []).some((o) => /^no-new-privileges(:true)?$/.test(o))) problems.push(`${where}: no-new-privileges is not set`);
        if (s.privileged) problems.push(`${where}: privileged`);
        const user = String(s.user ?? '');
        const isKeyJob = name === 'keys';
        if (isKeyJob) {
            const allowed = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER'];
            for (const c of s.cap_add ?? []) if (!allowed.includes(c)) problems.push(`${where}: adds capability ${c}`);
            if (s.network_mode !== 'none') problems.push(`${where}: the key job needs no network (network_mode: none)`);
        } else {
            if ((s.cap_add ?? []).length) problems.push(`${where}: adds capabilities ${s.cap_add.join(',')}`);
            if (!user || /^(0|root)(:|$)/.test(user)) problems.push(`${where}: runs as root (set user)`);
        }
        const env = Array.isArray(s.environment)
            ? Object.fromEntries(s.environment.map((e) => e.split(/=(.*)/s)))
            : (s.environment ?? {});
        for (const [k, v] of Object.entries(env)) {
            if (SECRET_NAME.test(k) && !/^POSTGRES_PASSWORD$/.test(k)) problems.push(`${where}: ${k} is set in the environment; use a file`);
            if (k === 'POSTGRES_PASSWORD') problems.push(`${where}: POSTGRES_PASSWORD is set; use POSTGRES_PASSWORD_FILE`);
            if (typeof v === 'string' && URL_PASSWORD.test(v)) problems.push(`${where}: ${k} holds a URL with a password`);
        }
        if (!program) continue;
        if (users.has(user)) problems.push(`${where}: shares user ${user} with ${users.get(user)}; each service has its own`);
        users.set(user, name);
        const test = [].concat(s.healthcheck?.test ?? []);
        if (program === 'gateway') {
            if (!test.join(' ').includes('/readyz')) problems.push(`${where}: health check does not ask /readyz`);
        } else {
            const arg = (flag) => test[test.indexOf(flag) + 1];
            if (test[1] !== 'zping' || arg('--service') !== program || arg('--as') !== program) {
                problems.push(`${where}: health check must run zping --service ${program} --as ${program}`);
            }
            const want = [...policy.services[program].peers, program];
            if (!sameSet(String(env.ALLOWED_PEERS ?? '').split(',').filter(Boolean), want)) {
                problems.push(`${where}: ALLOWED_PEERS is not ${want.join(',')}`);
            }
            if (!String(env.DATABASE_URL ?? '').startsWith(`postgresql://${program}_svc@`)) problems.push(`${where}: DATABASE_URL does not use the role ${program}_svc`);
            if (!env.DATABASE_PASSWORD_FILE) problems.push(`${where}: no DATABASE_PASSWORD_FILE`);
        }
        if (!env.KEYS_DIR) problems.push(`${where}: no KEYS_DIR`);
        const deps = s.depends_on ?? {};
        if (Array.isArray(deps) || Object.values(deps).some((d) => !d?.condition)) {
            problems.push(`${where}: depends_on without conditions starts it before its dependencies are ready`);
        }
    }
    for (const b of [...policy.backends, 'gateway']) {
        if (!Object.values(services).some((s) => [].concat(s.command ?? [])[0] === b)) problems.push(`compose: no service runs ${b}`);
    }
    return problems;
}

// ---------------------------------------------------------------------------------------
// Dockerfile and deploy/service-keys.sh

export function checkDockerfile(text) {
    const problems = [];
    const stages = text.split(/^FROM /m).slice(1);
    const last = stages.at(-1) ?? '';
    if (!/^debian:bookworm-slim\b/.test(last)) problems.push('Dockerfile: the image does not run on debian:bookworm-slim');
    const user = /^USER\s+(\S+)/m.exec(last)?.[1] ?? '';
    if (!/^[1-9][0-9]*(:[1-9][0-9]*)?$/.test(user)) problems.push(`Dockerfile: USER '${user}' is not a fixed non-root uid`);
    if (!/^CMD \[/m.test(last)) problems.push('Dockerfile: no CMD naming the service');
    if (/^(ADD|RUN .*(curl|wget) )/m.test(text)) problems.push('Dockerfile: fetches from outside the repository and Debian');
    return problems;
}

export function checkServiceKeys(repo, policy) {
    const problems = [];
    const script = path.join(repo, 'deploy', 'service-keys.sh');
    for (const svc of Object.keys(policy.services)) {
        const out = execFileSync('sh', ['-c', '. "$1"; echo "$(svc_admits "$2")"; echo "$(svc_calls "$2")"', 'sh', script, svc], { encoding: 'utf8' });
        const [admits, calls] = out.split('\n').map((l) => l.split(' ').filter(Boolean));
        const wantAdmits = svc === 'gateway' ? [] : [...policy.services[svc].peers, svc];
        if (!sameSet(admits, wantAdmits)) problems.push(`deploy/service-keys.sh: svc_admits ${svc} is '${admits.join(' ')}', common/cm_svc.c says '${wantAdmits.join(' ')}'`);
        if (!sameSet(calls, policy.calls[svc])) problems.push(`deploy/service-keys.sh: svc_calls ${svc} is '${calls.join(' ')}', common/cm_svc.c says '${policy.calls[svc].join(' ')}'`);
    }
    return problems;
}

// ---------------------------------------------------------------------------------------

function main(argv) {
    const args = { k8s: [] };
    for (let i = 0; i < argv.length; i += 2) {
        const [flag, value] = [argv[i], argv[i + 1]];
        if (value === undefined) throw new Error(`${flag} needs a value`);
        if (flag === '--repo') args.repo = value;
        else if (flag === '--compose') args.compose = value;
        else if (flag === '--dockerfile') args.dockerfile = value;
        else if (flag === '--k8s') args.k8s.push(value.split(/=(.*)/s).slice(0, 2));
        else throw new Error(`unknown option ${flag}`);
    }
    if (!args.repo) throw new Error('usage: node rules.mjs --repo DIR [--compose FILE] [--k8s NAME=FILE]... [--dockerfile FILE]');
    const policy = loadPolicy(args.repo);
    const problems = [...checkServiceKeys(args.repo, policy)];
    const checked = ['deploy/service-keys.sh'];
    for (const [name, file] of args.k8s) {
        const objects = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS()).filter(Boolean);
        problems.push(...checkKubernetes(name, objects, policy));
        checked.push(`${name} (${objects.length} objects)`);
    }
    if (args.compose) {
        const raw = fs.readFileSync(args.compose, 'utf8');
        problems.push(...checkCompose(YAML.parse(raw, { merge: true }), policy, raw));
        checked.push(path.basename(args.compose));
    }
    if (args.dockerfile) {
        problems.push(...checkDockerfile(fs.readFileSync(args.dockerfile, 'utf8')));
        checked.push('Dockerfile');
    }
    for (const p of problems) console.error(`rules: ${p}`);
    if (problems.length) {
        console.error(`rules: ${problems.length} violation(s)`);
        return 1;
    }
    console.log(`rules: all hold for ${checked.join(', ')}`);
    return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    try {
        process.exitCode = main(process.argv.slice(2));
    } catch (err) {
        console.error(`rules: ${err.message}`);
        process.exitCode = 2;
    }
}
