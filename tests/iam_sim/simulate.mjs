// Test-only IAM access evaluator: one node process evaluates a whole batch of requests.
//
// stdin:  {"requests": [{
//            "identityPolicies": [<policy document>, ...],
//            "resourcePolicy": <policy document>            (optional, e.g. a bucket policy),
//            "principal": "arn:aws:sts::123456789012:assumed-role/ROLE/SESSION" (or a role/user ARN),
//            "principalTags": {"kubernetes-pod-name": "jupyter-alice"}   (optional, session tags),
//            "action": "s3:GetObject",
//            "resource": "arn:aws:s3:::bucket/home/jupyter-alice/x.txt",
//            "resourceAccount": "123456789012"               (optional, defaults to the principal's account),
//            "context": {"s3:prefix": "home/jupyter-alice/"} (optional, request context keys)
//          }, ...]}
// stdout: [{"decision": "Allowed"|"ImplicitlyDenied"|"ExplicitlyDenied"|"Error", ...}, ...] in request order.
//
// The engine is @cloud-copilot/iam-simulate (AGPL-3.0-or-later), driven through its public runSimulation()
// in Strict mode. It does not derive any context key from the principal, so this script does what AWS does
// for the caller: principalTags become aws:PrincipalTag/<key>, and aws:PrincipalArn, aws:PrincipalAccount
// and aws:PrincipalType come from the principal ARN. aws:username is set only for an IAM user (never for a
// role session, as in AWS). Keys given in "context" override the derived ones.
import { runSimulation } from '@cloud-copilot/iam-simulate';

const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/;
const IAM_ROLE = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(.+)$/;
const IAM_USER = /^arn:(aws[a-z-]*):iam::(\d{12}):user\/(.+)$/;
// Service principals: `budgets.amazonaws.com`, and with dots in the name: `logging.s3.amazonaws.com`.
const SERVICE = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$/;

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

/** Context keys that AWS itself puts in the request context for this principal. */
function principalContext(principal, principalTags) {
  const context = {};
  let match;
  if ((match = ASSUMED_ROLE.exec(principal))) {
    // The role path is not part of an assumed-role ARN; aws:PrincipalArn is the role ARN without it.
    context['aws:PrincipalArn'] = `arn:${match[1]}:iam::${match[2]}:role/${match[3]}`;
    context['aws:PrincipalAccount'] = match[2];
    context['aws:PrincipalType'] = 'AssumedRole';
  } else if ((match = IAM_ROLE.exec(principal))) {
    context['aws:PrincipalArn'] = principal;
    context['aws:PrincipalAccount'] = match[2];
    context['aws:PrincipalType'] = 'AssumedRole';
  } else if ((match = IAM_USER.exec(principal))) {
    context['aws:PrincipalArn'] = principal;
    context['aws:PrincipalAccount'] = match[2];
    context['aws:PrincipalType'] = 'User';
    context['aws:username'] = match[3].split('/').at(-1);
  } else if (SERVICE.test(principal)) {
    // An AWS service acting on its own (a service principal in a resource policy): AWS sets these two.
    context['aws:PrincipalServiceName'] = principal;
    context['aws:PrincipalIsAWSService'] = 'true';
  } else {
    throw new Error(
      `unsupported principal ${JSON.stringify(principal)}: expected an assumed-role, role or user ARN, or a service`
    );
  }
  for (const [key, value] of Object.entries(principalTags ?? {})) {
    if (typeof value !== 'string') {
      throw new Error(`principal tag ${key} must be a string`);
    }
    context[`aws:PrincipalTag/${key}`] = value;
  }
  return context;
}

function statementIds(analysis, kind) {
  const ids = [];
  for (const [policyType, part] of [
    ['identity', analysis?.identityAnalysis],
    ['resource', analysis?.resourceAnalysis]
  ]) {
    for (const statement of part?.[kind] ?? []) {
      const sid = statement.statement.sid?.() ?? `#${statement.statement.index?.()}`;
      ids.push(`${policyType}:${statement.policyId}:${sid}`);
    }
  }
  return ids;
}

async function evaluate(request, index) {
  const principal = request.principal;
  if (typeof principal !== 'string') {
    throw new Error('principal must be an ARN string');
  }
  if (typeof request.action !== 'string' || typeof request.resource !== 'string') {
    throw new Error('action and resource must be strings');
  }
  // A real request names one concrete resource: a '*' would switch the engine into its wildcard mode, which
  // answers "could some matching resource be allowed" instead of deciding this request.
  if (request.resource !== '*' && request.resource.includes('*')) {
    throw new Error(`resource ${request.resource} contains '*': give a concrete resource`);
  }
  const derived = principalContext(principal, request.principalTags);
  const simulation = {
    request: {
      principal,
      action: request.action,
      resource: {
        resource: request.resource,
        // A service principal has no account: the resource's own (its ARN's account field).
        accountId: request.resourceAccount ?? derived['aws:PrincipalAccount'] ?? request.resource.split(':')[4]
      },
      contextVariables: { ...derived, ...(request.context ?? {}) }
    },
    identityPolicies: (request.identityPolicies ?? []).map((policy, i) => ({ name: `identity-${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {})
  };
  const response = await runSimulation(simulation, { simulationMode: 'Strict' });
  if (response.resultType === 'error') {
    return { index, decision: 'Error', error: response.errors };
  }
  if (response.resultType !== 'single') {
    return { index, decision: 'Error', error: { message: `unexpected resultType ${response.resultType}` } };
  }
  const analysis = response.result.analysis;
  // Caller-supplied keys the engine dropped because they do not apply to this action/resource type.
  const suppliedKeys = new Set(Object.keys(request.context ?? {}));
  return {
    index,
    decision: response.overallResult,
    allowedBy: statementIds(analysis, 'allowStatements'),
    deniedBy: statementIds(analysis, 'denyStatements'),
    ignoredContextKeys: (response.result.ignoredContextKeys ?? []).filter((key) => suppliedKeys.has(key))
  };
}

async function main() {
  const input = JSON.parse(await readStdin());
  if (!input || !Array.isArray(input.requests)) {
    throw new Error('stdin must be a JSON object {"requests": [...]}');
  }
  const results = [];
  for (const [index, request] of input.requests.entries()) {
    try {
      results.push(await evaluate(request, index));
    } catch (error) {
      results.push({ index, decision: 'Error', error: { message: String(error?.message ?? error) } });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(`simulate.mjs: ${error?.stack ?? error}\n`);
  process.exit(2);
});
