// The emulator through the JavaScript clients users point at Neptune, over TLS as Neptune requires
// (https://docs.aws.amazon.com/neptune/latest/userguide/security-ssl.html): TinkerPop's `gremlin` (wss://, each
// serializer it offers, a g.tx() session) and `@aws-sdk/client-neptunedata` (https://). Run by
// tests/e2e/test_node_clients.py with NODE_EXTRA_CA_CERTS naming the emulator's CA; prints one JSON line.
//
//   node tests/e2e/neptune_clients.mjs https://127.0.0.1:PORT

const endpoint = process.argv[2];
const gremlinModule = await import('gremlin');
const gremlin = gremlinModule.default ?? gremlinModule;
const { DriverRemoteConnection } = gremlin.driver;
const { traversal } = gremlin.process.AnonymousTraversalSource;
const { t, cardinality, merge } = gremlin.process;
const __ = gremlin.process.statics;
const sdk = await import('@aws-sdk/client-neptunedata');

const out = { serializers: {} };
const serializers = {
  graphbinary: 'application/vnd.graphbinary-v1.0',
  graphson3: 'application/vnd.gremlin-v3.0+json',
  graphson2: 'application/vnd.gremlin-v2.0+json',
};
for (const [name, mimeType] of Object.entries(serializers)) {
  const connection = new DriverRemoteConnection(`${endpoint.replace('https://', 'wss://')}/gremlin`, { mimeType });
  const g = traversal().withRemote(connection);
  const id = `js-${name}`;
  await g.addV('person').property(t.id, id).property(cardinality.single, 'age', 30).iterate();
  await g.V(id).property(cardinality.single, 'age', 31).iterate();
  // The bulk insert from a list of maps (as/select), and mergeV with Merge.onCreate.
  await g
    .inject([{ id: `${id}-m`, label: 'city' }])
    .unfold()
    .as('m')
    .addV(__.select('m').select('label'))
    .property(t.id, __.select('m').select('id'))
    .iterate();
  if (name !== 'graphson2') {
    await g.mergeV(new Map([[t.id, `${id}-merged`]])).option(merge.onCreate, new Map([[t.label, 'thing']])).iterate();
  }
  // A session: one transaction at commit; a rolled-back one leaves nothing.
  const tx = g.tx();
  const gtx = tx.begin();
  await gtx.addV('person').property(t.id, `${id}-tx`).iterate();
  await gtx.V(`${id}-tx`).addE('knows').to(__.V(id)).iterate();
  await tx.commit();
  const rolledBack = g.tx();
  const rtx = rolledBack.begin();
  await rtx.addV('person').property(t.id, `${id}-rolled-back`).iterate();
  await rolledBack.rollback();
  const ages = await g.V(id).values('age').toList();
  const ids = (await g.V().hasId(gremlin.process.P.within(id, `${id}-m`, `${id}-merged`, `${id}-tx`, `${id}-rolled-back`)).id().toList()).sort();
  out.serializers[name] = { ages, ids };
  await connection.close();
}

const client = new sdk.NeptunedataClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
const page = await client.send(new sdk.GetPropertygraphStreamCommand({ iteratorType: 'TRIM_HORIZON', limit: 1000 }));
out.stream = page.records.map((r) => [r.eventId.commitNum, r.data.id, r.data.type, r.op]);
const status = await client.send(new sdk.GetEngineStatusCommand({}));
out.status = { status: status.status, opencypher: status.opencypher ?? null, gremlin: status.gremlin?.version ?? null };
try {
  await client.send(new sdk.ExecuteOpenCypherQueryCommand({ openCypherQuery: 'MATCH (n) RETURN n' }));
  out.openCypher = { error: null };
} catch (error) {
  out.openCypher = {
    error: error.name,
    unsupported: error instanceof sdk.UnsupportedOperationException,
    status: error.$metadata?.httpStatusCode ?? null,
    detailedMessage: error.detailedMessage ?? null,
  };
}
console.log(JSON.stringify(out));
