// Injected by scripts/bundle.mjs into the CommonJS bundle, where `import.meta.url` (used by
// the sources, which are ES modules) becomes this: the URL of the bundle file itself.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
