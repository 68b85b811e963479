// The code blocks of a markdown doc marked `<!-- runnable: FILE -->`, with the environment its shell blocks
// export before each: the README's run by test/docs/readme.test.ts from the repository and by
// test/package.test.ts from an installed tarball, docs/migrating.md's by test/docs/migrating.test.ts.
export interface RunnableBlock {
  readonly file: string;
  readonly code: string;
  /** The `export NAME=value` lines of the shell blocks before it (values without comments). */
  readonly env: Record<string, string>;
}

/** Every block marked runnable, with the environment the README told the reader to export before it. */
export function runnableBlocks(markdown: string): RunnableBlock[] {
  const blocks: RunnableBlock[] = [];
  const env: Record<string, string> = {};
  const fence = /(?:<!-- runnable: ([\w.-]+) -->\s*\n)?```(\w*)\n([\s\S]*?)```/g;
  for (const m of markdown.matchAll(fence)) {
    const [, file, lang, code] = m;
    if (lang === 'sh') {
      for (const line of code!.split('\n')) {
        const e = /^export ([A-Z_]+)=(\S+)/.exec(line.trim());
        if (e) env[e[1]!] = e[2]!;
      }
    }
    if (file !== undefined) blocks.push({ file, code: code!, env: { ...env } });
  }
  return blocks;
}
