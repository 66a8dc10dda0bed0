/**
 * consul-template fleets type Go-style flags: a single dash on long names
 * (`-config x`, `-config=x`, `-once`, `-dry`). Rewrite them to certrender's commands so
 * that `certrender -config x.hcl -once` is `certrender once --config x.hcl` and `-dry`
 * is `plan --contents`. Pure.
 */
const COMMANDS = new Set(['once', 'plan', 'status', 'run', 'help']);

export function translateLegacyArgv(argv: string[]): string[] {
  const out: string[] = [];
  let command: string | undefined;
  let legacy = false;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    // -name / -name=value with a long name: Go's single-dash form.
    if (/^-[A-Za-z][A-Za-z0-9_-]+(=.*)?$/.test(a)) a = `-${a}`;
    if (a === '--once') {
      command ??= 'once';
      legacy = true;
      continue;
    }
    if (a === '--dry') {
      command = 'plan';
      legacy = true;
      out.push('--contents');
      continue;
    }
    out.push(a);
  }
  if (!command) return out;
  // A legacy invocation names no command word; put ours first.
  const hasCommand = out.some((a) => COMMANDS.has(a));
  return legacy && !hasCommand ? [command, ...out] : out;
}
