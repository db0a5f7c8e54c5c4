// kustomize-v2.mjs - rewrite kustomizations in place for the kustomize v2.0.3 inside
// Debian 12's kubectl 1.20 (package kubernetes-client).
//
//   node kustomize-v2.mjs DIR        (DIR: a scratch copy of deploy/k8s, never the tree)
//
// deploy/k8s is written for current kustomize (kubectl >= 1.21). Debian's kubectl only
// knows the older spelling of the same two things we use: a directory in `resources`
// is a `bases` entry, and a `patches` entry that names a strategic-merge file is a
// `patchesStrategicMerge` entry. Anything else newer than v2 is refused with its name,
// so a rendering through this path is never quietly different.

import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

// Fields v2.0.3 reads the same way current kustomize does.
const SAME = new Set([
    'apiVersion', 'kind', 'namespace', 'namePrefix', 'nameSuffix', 'commonAnnotations',
    'images', 'configMapGenerator', 'secretGenerator', 'generatorOptions',
]);

function fail(file, what) {
    console.error(`kustomize-v2: ${file}: ${what} has no kustomize v2.0.3 spelling;` +
        ' render with kubectl >= 1.21 or keep to the fields deploy/check/kustomize-v2.mjs knows');
    process.exit(1);
}

function rewrite(file) {
    const dir = path.dirname(file);
    const doc = YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
    const out = {};
    for (const [key, value] of Object.entries(doc)) {
        if (SAME.has(key)) {
            out[key] = value;
        } else if (key === 'resources') {
            for (const entry of value) {
                const isDir = fs.statSync(path.resolve(dir, entry)).isDirectory();
                (out[isDir ? 'bases' : 'resources'] ??= []).push(entry);
            }
        } else if (key === 'patches') {
            for (const entry of value) {
                const keys = Object.keys(entry);
                if (keys.length !== 1 || keys[0] !== 'path') {
                    fail(file, `a patches entry with ${keys.filter((k) => k !== 'path').join(', ')}`);
                }
                (out.patchesStrategicMerge ??= []).push(entry.path);
            }
        } else {
            fail(file, `the field '${key}'`);
        }
    }
    for (const generator of out.configMapGenerator ?? []) {
        for (const key of Object.keys(generator)) {
            if (!['name', 'behavior', 'literals', 'files', 'envs'].includes(key)) {
                fail(file, `configMapGenerator field '${key}'`);
            }
        }
        // v2 calls `envs` `env` and takes a single file
        if (generator.envs) {
            if (generator.envs.length !== 1) fail(file, 'configMapGenerator with several envs');
            generator.env = generator.envs[0];
            delete generator.envs;
        }
    }
    fs.writeFileSync(file, YAML.stringify(out));
}

function walk(dir) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name === 'kustomization.yaml') rewrite(full);
    }
}

if (process.argv.length !== 3) {
    console.error('usage: node kustomize-v2.mjs DIR');
    process.exit(2);
}
walk(process.argv[2]);
