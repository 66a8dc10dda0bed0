// Writes schema/certrender.schema.json from the one config schema (run after tsc by `npm run build`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { configSchema } from '../dist/config/schema.js';

const { $schema, ...rest } = z.toJSONSchema(configSchema, { io: 'input' });
const schema = {
  $schema,
  $id: 'urn:certrender:config',
  title: 'certrender config',
  description:
    'The JSON form of a certrender config (HCL1 files have the same keys). Durations are strings such as "30s" or numbers of seconds; perms is a number or an octal string.',
  ...rest,
};
const out = new URL('../schema/certrender.schema.json', import.meta.url);
mkdirSync(new URL('.', out), { recursive: true });
writeFileSync(out, `${JSON.stringify(schema, null, 2)}\n`);
console.log(`wrote ${out.pathname}`);
