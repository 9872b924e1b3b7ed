// Real OpenFeature Node SDKs against the flagops service, driven by tests/ofrep/test_ofrep_node_sdk.py.
// Reads one JSON job on stdin, prints JSON lines on stdout:
//   {"mode": "server-evaluate", ...}  the server SDK + @openfeature/ofrep-provider (one OFREP call per evaluation):
//                                     prints {"results": [...]} for every (flag, context) pair
//   {"mode": "server-watch" | "web-watch", ...}  evaluates `flag` until it is served DISABLED: prints
//                                     {"ready": {...}} first, then {"seen": <epoch ms>} (web: the web SDK +
//                                     @openfeature/ofrep-web-provider, which polls the bulk endpoint with If-None-Match)
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.OFREP_NODE_DIR, 'package.json'));
const job = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (chunk) => { data += chunk; });
  process.stdin.on('end', () => resolve(data));
}));
// a list of pairs: both providers take it (the web provider's ofrep-core 2.x cannot spread a plain object)
const headers = [['Authorization', `Bearer ${job.token}`], ['X-Flagops-Environment', job.environment]];
const out = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function typed(client, kind) {
  const method = { boolean: 'getBooleanDetails', string: 'getStringDetails', number: 'getNumberDetails',
                   object: 'getObjectDetails' }[kind];
  const fallback = { boolean: false, string: 'code-default', number: -1, object: { code: 'default' } }[kind];
  return (key, context) => client[method](key, fallback, context);
}

function plain(details) {
  return { value: details.value, variant: details.variant ?? null, reason: details.reason,
           errorCode: details.errorCode ?? null, metadata: details.flagMetadata ?? {} };
}

async function serverClient() {
  const { OpenFeature } = require('@openfeature/server-sdk');
  const { OFREPProvider } = require('@openfeature/ofrep-provider');
  await OpenFeature.setProviderAndWait('flagops', new OFREPProvider({ baseUrl: job.url, headers }));
  return { sdk: OpenFeature, client: OpenFeature.getClient('flagops') };
}

async function webClient() {
  const { OpenFeature } = require('@openfeature/web-sdk');
  const { OFREPWebProvider } = require('@openfeature/ofrep-web-provider');
  await OpenFeature.setContext('flagops', job.context);
  // no localStorage in Node: the provider's persistent cache is off, its in-memory cache does the work
  const provider = new OFREPWebProvider({ baseUrl: job.url, headers, pollInterval: job.pollMs, cacheMode: 'disabled' });
  await OpenFeature.setProviderAndWait('flagops', provider);
  return { sdk: OpenFeature, client: OpenFeature.getClient('flagops') };
}

if (job.mode === 'server-evaluate') {
  const { sdk, client } = await serverClient();
  const results = [];
  for (const { key, kind, context } of job.pairs) {
    results.push(plain(await typed(client, kind)(key, context)));
  }
  out({ results });
  await sdk.close();
} else {
  const web = job.mode === 'web-watch';
  const { sdk, client } = web ? await webClient() : await serverClient();
  const evaluate = typed(client, job.kind);
  const look = async () => plain(web ? evaluate(job.flag) : await evaluate(job.flag, job.context));
  const flags = web ? Object.keys(sdk.getProvider('flagops').flagCache ?? {}) : [];
  out({ ready: await look(), cachedFlags: flags.length });
  const deadline = Date.now() + job.timeoutMs;
  while (Date.now() < deadline) {
    const details = await look();
    if (details.reason === 'DISABLED' && details.errorCode === null) {
      out({ seen: Date.now(), details });
      break;
    }
    await sleep(10);
  }
  await sdk.close();
}
