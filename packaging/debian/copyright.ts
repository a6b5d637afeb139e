/**
 * Writes the .deb's /usr/share/doc/berth/copyright (Debian's machine-readable format) for what
 * the single executable holds: berth, every npm package esbuild put into the bundle (read from
 * its metafile, so the list cannot drift from the bundle), and Node.js itself.
 *
 *   node copyright.ts HEAD METAFILE NODE_LICENSE > copyright
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const APACHE_NOTE =
  "On Debian systems, the complete text of the Apache License 2.0 can be found in\n/usr/share/common-licenses/Apache-2.0.";

interface PackageJson {
  name: string;
  version: string;
  license?: string;
}

/** The package directories (node_modules/NAME or node_modules/@SCOPE/NAME) of bundled files. */
export function bundledPackages(inputs: string[]): string[] {
  const dirs = new Set<string>();
  for (const input of inputs) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match?.[1]) dirs.add(match[1]);
  }
  return [...dirs].sort();
}

/** A copyright-format field body: continuation lines start with a space, blank lines are " .". */
export function fieldBody(text: string): string {
  return text
    .trim()
    .split("\n")
    .map((line) => (line.trim() === "" ? " ." : ` ${line.trimEnd()}`))
    .join("\n");
}

function licenseText(dir: string): string | undefined {
  const file = readdirSync(dir).find((name) => /^licen[cs]e/i.test(name));
  return file ? readFileSync(join(dir, file), "utf8") : undefined;
}

function stanza(dir: string): string {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageJson;
  const license = pkg.license ?? "UNKNOWN";
  const text = licenseText(dir);
  const holders = (text ?? "")
    .split("\n")
    .filter((line) => /^\s*copyright\s+(\(c\)|©|\d)/i.test(line))
    .map((line) => line.trim());
  const body = license === "Apache-2.0" ? APACHE_NOTE : (text ?? `See ${pkg.name}'s package.`);
  return [
    `Files: ${dir}/*`,
    `Comment: ${pkg.name} ${pkg.version}, bundled into /usr/bin/berth`,
    `Copyright: ${holders.length > 0 ? fieldBody(holders.join("\n")).slice(1) : `${pkg.name} authors`}`,
    `License: ${license}`,
    fieldBody(body),
  ].join("\n");
}

function main(): void {
  const [head, metafile, nodeLicense] = process.argv.slice(2);
  if (!head || !metafile || !nodeLicense) {
    process.stderr.write("usage: copyright.ts HEAD METAFILE NODE_LICENSE\n");
    process.exit(2);
  }
  const meta = JSON.parse(readFileSync(metafile, "utf8")) as { inputs: Record<string, unknown> };
  const dirs = bundledPackages(Object.keys(meta.inputs)).filter((dir) =>
    existsSync(join(dir, "package.json")),
  );
  const parts = [
    readFileSync(head, "utf8").trim(),
    ...dirs.map(stanza),
    [
      "Files: node_modules/node/bin/node",
      // copyright.ts runs on the very Node.js binary the executable is made of.
      `Comment: Node.js ${process.versions.node}, the runtime /usr/bin/berth is, with the libraries it embeds`,
      "Copyright: Node.js contributors and the authors named below",
      "License: Node.js",
      fieldBody(readFileSync(nodeLicense, "utf8")),
    ].join("\n"),
    ["License: Apache-2.0", fieldBody(APACHE_NOTE)].join("\n"),
  ];
  process.stdout.write(`${parts.join("\n\n")}\n`);
}

if (import.meta.main) main();
