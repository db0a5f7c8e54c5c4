// validate.mjs - every object of rendered manifests against the Kubernetes OpenAPI schemas,
// offline.
//
//   node validate.mjs FILE.yaml...
//
// The schemas are those of the npm package kubernetes-models (generated from Kubernetes'
// OpenAPI document; pinned in package-lock.json): types, required fields, enums, formats
// such as quantities. Those schemas let unknown fields through, so on top of them every
// field name is looked up in the same package's type declarations: a misspelt or
// misplaced field (readOnlyRootFileSystem, a probe one level too deep) fails as well.
// An object of a kind the package does not know fails too; nothing is skipped.
// Exit 0 when all is valid; 1 with one line per problem otherwise.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const MODELS = path.join(here, 'node_modules', 'kubernetes-models');
const APIMACHINERY = path.join(here, 'node_modules', '@kubernetes-models', 'apimachinery');

// ---------------------------------------------------------------------------------------
// Field names from the .d.ts files: interface name -> { field: type expression }.

const types = new Map();        // exported name (IIoK8s...) -> fields
const byFile = new Map();       // .d.ts path -> local interface name -> fields

function parseDeclarations(file) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const local = new Map();
    let current = null;
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        const start = /^export interface (\w+)(?: extends [\w, ]+)? \{$/.exec(line);
        if (start) {
            current = {};
            local.set(start[1], current);
            continue;
        }
        if (current && line === '}') {
            current = null;
            continue;
        }
        if (current) {
            const field = /^ {4}"([^"]+)"\??: (.*?);?$/.exec(line);
            if (!field) continue;
            let type = field[2];
            if (type === '{') {
                // { [key: string]: T; } over several lines
                const inner = /^ {8}\[key: string\]: (.*);$/.exec(lines[i + 1] ?? '');
                type = inner ? `Map<${inner[1]}>` : 'unknown';
                while (i < lines.length && !/^ {4}\};?$/.test(lines[i])) i++;
            }
            current[field[1]] = type;
        }
        const aliases = /^export \{ (.*) \};$/.exec(line);
        if (aliases) {
            for (const pair of aliases[1].split(', ')) {
                const [name, alias] = pair.split(' as ');
                if (local.has(name)) types.set(alias, local.get(name));
            }
        }
    }
    byFile.set(file, local);
}

function scan(dir) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) scan(full);
        else if (entry.name.endsWith('.d.ts')) parseDeclarations(full);
    }
}

// Type expression -> what to check inside a value of that type.
function unknownFields(value, type, where, problems) {
    if (value === null || typeof value !== 'object') return;
    let m;
    if ((m = /^Array<(.*)>$/.exec(type))) {
        if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, m[1], `${where}[${i}]`, problems));
        return;
    }
    if ((m = /^Map<(.*)>$/.exec(type))) {
        for (const [k, v] of Object.entries(value)) unknownFields(v, m[1], `${where}.${k}`, problems);
        return;
    }
    const fields = typeof type === 'object' ? type : types.get(type);
    if (!fields || Array.isArray(value)) return;        // scalars, quantities, free-form
    for (const [k, v] of Object.entries(value)) {
        if (!(k in fields)) problems.push(`unknown field ${where ? `${where}.` : ''}${k}`);
        else unknownFields(v, fields[k], where ? `${where}.${k}` : k, problems);
    }
}

// ---------------------------------------------------------------------------------------

function modelPath(apiVersion, kind) {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [null, apiVersion];
    return path.join(MODELS, ...(group ? [group, version] : [version]), kind);
}

export function validateObjects(objects) {
    if (types.size === 0) {
        scan(MODELS);
        scan(APIMACHINERY);
    }
    const problems = [];
    for (const { obj, where } of objects) {
        const id = `${where}: ${obj?.kind ?? '?'}/${obj?.metadata?.name ?? '?'}`;
        if (!obj || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
            problems.push(`${id}: no apiVersion or kind`);
            continue;
        }
        const file = modelPath(obj.apiVersion, obj.kind);
        if (!fs.existsSync(`${file}.js`)) {
            problems.push(`${id}: no schema for ${obj.apiVersion} ${obj.kind}`);
            continue;
        }
        const Model = require(`${file}.js`)[obj.kind];
        try {
            new Model(obj).validate();
        } catch (err) {
            problems.push(`${id}: ${String(err.message).replaceAll('\n', '; ')}`);
        }
        const top = byFile.get(`${file}.d.ts`)?.get(`I${obj.kind}`);
        const found = [];
        unknownFields(obj, top ?? {}, '', found);
        for (const p of found) problems.push(`${id}: ${p}`);
    }
    return problems;
}

export function loadObjects(file) {
    const objects = [];
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
        if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
        const obj = doc.toJS();
        if (obj !== null) objects.push({ obj, where: path.basename(file) });
    }
    return objects;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const files = process.argv.slice(2);
    if (files.length === 0) {
        console.error('usage: node validate.mjs FILE.yaml...');
        process.exit(2);
    }
    const objects = files.flatMap(loadObjects);
    const problems = validateObjects(objects);
    for (const p of problems) console.error(`schema: ${p}`);
    if (problems.length) process.exit(1);
    console.log(`schema: ${objects.length} objects valid (${files.map((f) => path.basename(f)).join(', ')})`);
}
