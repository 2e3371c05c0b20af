#!/usr/bin/env node
// The `custos` command: Node.js (22.18 and later) runs the TypeScript sources itself, stripping their types.
await import('../src/cli/index.ts');
