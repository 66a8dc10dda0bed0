/**
 * consul-template's `sandbox_path` for `file`: the path, every symlink resolved, must be
 * the sandbox directory (itself resolved) or lie under it, compared segment by segment
 * (/srv/a does not admit /srv/ab).
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';
import { CertrenderError } from '../errors.js';

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code ?? 'unreadable';

/**
 * A checker for one sandbox directory (absolute): it returns the real path of `path`
 * (absolute), or throws CR_TEMPLATE_FUNCTION naming it when it resolves outside, and
 * rethrows realpath's error for a path that does not resolve (missing, dangling symlink).
 */
export function createSandbox(dir: string): (path: string) => string {
  let root: string | undefined;
  return (path) => {
    try {
      root ??= realpathSync(dir);
    } catch (e) {
      throw new CertrenderError('CR_TEMPLATE_FUNCTION', `file: sandbox_path "${dir}": ${errno(e)}`, {
        hint: 'sandbox_path must name an existing directory',
        cause: e,
        context: { sandbox_path: dir },
      });
    }
    const real = realpathSync(path);
    const rel = relative(root, real);
    if (rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))) return real;
    throw new CertrenderError('CR_TEMPLATE_FUNCTION', `file "${path}" is outside of sandbox_path "${dir}"${real === path ? '' : ` (it resolves to ${real})`}`, {
      hint: "read only files under the template's sandbox_path, or change sandbox_path",
      context: { path, sandbox_path: dir },
    });
  };
}
