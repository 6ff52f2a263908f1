// Validates CSAF 2.0 documents with BSI's @secvisogram/csaf-validator-lib: the strict
// schema test and every mandatory test (section 6.1). Prints each failure and exits 1 when
// any document fails. Usage: node scripts/csaf-validate.mjs FILE...
// scripts/tools-node installs the library into target/tools/node.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const lib = join(root, 'target/tools/node/node_modules/@secvisogram/csaf-validator-lib')
const load = (m) => import(pathToFileURL(join(lib, m)).href)
const { default: validateStrict } = await load('validateStrict.js')
const mandatory = await load('mandatoryTests.js')
const { csaf_2_0_strict } = await load('schemaTests.js')

const tests = [csaf_2_0_strict, ...Object.values(mandatory)]
let failed = 0
for (const file of process.argv.slice(2)) {
  const doc = JSON.parse(readFileSync(file, 'utf8'))
  const result = await validateStrict(tests, doc)
  const bad = result.tests.filter((t) => !t.isValid || (t.errors ?? []).length > 0)
  if (bad.length === 0 && result.isValid) {
    console.log(`${file}: valid (${result.tests.length} tests)`)
    continue
  }
  failed++
  for (const t of bad) {
    for (const e of t.errors ?? []) console.log(`${file}: ${t.name}: ${e.instancePath} ${e.message}`)
  }
}
process.exit(failed ? 1 : 0)
