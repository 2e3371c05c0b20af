/**
 * The Kubernetes manifests as `kubectl apply -k` would see them, without
 * kubectl: every file a kustomization lists, read as YAML documents, and the
 * components' JSON patches (RFC 6902 `add` / `replace`, the only operations
 * they use) applied to copies of the base.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** The deployment folder. */
export const KUBERNETES_DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));

/** A Kubernetes object as parsed. */
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: unknown };

/** A manifest with the file it came from. */
export interface Loaded {
  file: string;
  object: Manifest;
}

/** A kustomization file's fields used here. */
export interface Kustomization {
  apiVersion: string;
  kind: 'Kustomization' | 'Component';
  resources?: string[];
  components?: string[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

/** Reads YAML documents (all of them, non-empty), failing on any parse error. */
export function readYaml(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    const value = d.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** The kustomization of `dir` (relative to the deployment folder). */
export function kustomization(dir = '.'): Kustomization {
  return readYaml(path.join(KUBERNETES_DIR, dir, 'kustomization.yaml'))[0] as Kustomization;
}

/** Every object the kustomization of `dir` lists, with its file (relative to the deployment folder). */
export function resourcesOf(dir = '.'): Loaded[] {
  return (kustomization(dir).resources ?? []).flatMap((r) => {
    const file = path.join(dir, r);
    return readYaml(path.join(KUBERNETES_DIR, file)).map((object) => ({ file, object: object as Manifest }));
  });
}

/** Applies one RFC 6902 operation (add, replace) at a JSON pointer. */
function applyOperation(target: unknown, op: { op: string; path: string; value: unknown }): void {
  const keys = op.path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop()!;
  let node = target as Record<string, unknown>;
  for (const k of keys) {
    if (node[k] === undefined) throw new Error(`patch ${op.path}: ${k} is missing`);
    node = node[k] as Record<string, unknown>;
  }
  if (op.op === 'add' && Array.isArray(node)) {
    if (last === '-') node.push(op.value);
    else node.splice(Number(last), 0, op.value);
  } else if (op.op === 'add') node[last] = op.value;
  else if (op.op === 'replace') {
    if (!(last in node)) throw new Error(`patch ${op.path}: nothing to replace`);
    node[last] = op.value;
  } else throw new Error(`patch ${op.path}: operation ${op.op} is not handled here`);
}

/**
 * The base with the components at `components` (folders relative to the
 * deployment folder) applied in order: their resources added, their patches
 * applied to the objects they target (each target must exist).
 */
export function build(components: string[] = []): Loaded[] {
  const out = resourcesOf().map((l) => ({ file: l.file, object: structuredClone(l.object) }));
  for (const c of components) {
    const k = kustomization(c);
    if (k.kind !== 'Component') throw new Error(`${c} is not a Component`);
    out.push(...resourcesOf(c));
    for (const p of k.patches ?? []) {
      const target = out.find((l) => l.object.kind === p.target.kind && l.object.metadata.name === p.target.name);
      if (!target) throw new Error(`${c}: a patch targets ${p.target.kind}/${p.target.name}, which is not there`);
      for (const op of readYamlText(p.patch) as { op: string; path: string; value: unknown }[]) applyOperation(target.object, op);
    }
  }
  return out;
}

function readYamlText(text: string): unknown {
  const docs = parseAllDocuments(text);
  if (docs.length !== 1 || docs[0]!.errors.length) throw new Error(`a patch is not one YAML document: ${text}`);
  return docs[0]!.toJS();
}

/** The one object of `kind` (and `name`, when given). */
export function one(objects: Loaded[], kind: string, name?: string): Manifest {
  const hits = objects.filter((l) => l.object.kind === kind && (name === undefined || l.object.metadata.name === name));
  if (hits.length !== 1) throw new Error(`expected one ${kind}${name ? `/${name}` : ''}, found ${hits.length}`);
  return hits[0]!.object;
}
