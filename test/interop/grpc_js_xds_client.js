// Interop test: a real, independent xDS client (@grpc/grpc-js-xds) resolves an xds:/// target
// through remora-control and makes a gRPC call to the endpoint it is given.
//   node grpc_js_xds_client.js CONTROL_PORT CONFIG_DIR
// Starts an Echo server on loopback, writes the Listener/RouteConfiguration/Cluster/
// ClusterLoadAssignment for it into CONFIG_DIR (remora-control pushes the change), then calls
// xds:///echo.remora.test. Prints "OK <reply>" and exits 0 on success.
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [controlPort, configDir] = process.argv.slice(2);
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(__dirname, 'echo.proto'), {keepCase: true}));

function fail(msg) {
  console.error('FAIL ' + msg);
  process.exit(1);
}

const server = new grpc.Server();
server.addService(pkg.remora.test.Echo.service, {
  Say: (call, cb) => cb(null, {text: call.request.text, served_by: 'echo-server'}),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) fail('bind: ' + err);
  const resources = [
    {
      '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
      name: 'echo.remora.test',
      apiListener: {
        apiListener: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          rds: {routeConfigName: 'echo-routes', configSource: {ads: {}, resourceApiVersion: 'V3'}},
          httpFilters: [{name: 'router', typedConfig: {'@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router'}}],
        },
      },
    },
    {
      '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
      name: 'echo-routes',
      virtualHosts: [{name: 'echo', domains: ['*'], routes: [{match: {prefix: ''}, route: {cluster: 'echo-cluster'}}]}],
    },
    {
      '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
      name: 'echo-cluster',
      type: 'EDS',
      edsClusterConfig: {edsConfig: {ads: {}, resourceApiVersion: 'V3'}, serviceName: 'echo-endpoints'},
      lbPolicy: 'ROUND_ROBIN',
    },
    {
      '@type': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
      clusterName: 'echo-endpoints',
      endpoints: [{locality: {}, loadBalancingWeight: 1,
                   lbEndpoints: [{endpoint: {address: {socketAddress: {address: '127.0.0.1', portValue: port}}},
                                  healthStatus: 'HEALTHY'}]}],
    },
  ];
  // Write to a temporary name and rename: remora-control sees one complete file.
  const tmp = path.join(configDir, '.echo.json.tmp');
  fs.writeFileSync(tmp, resources.map((r) => JSON.stringify(r)).join('\n---\n'));
  fs.renameSync(tmp, path.join(configDir, 'echo.yaml'));

  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{server_uri: '127.0.0.1:' + controlPort, channel_creds: [{type: 'insecure'}], server_features: ['xds_v3']}],
    node: {id: 'grpc-js-interop', cluster: 'interop', locality: {}},
  });
  require('@grpc/grpc-js-xds').register();
  const client = new pkg.remora.test.Echo('xds:///echo.remora.test', grpc.credentials.createInsecure());
  const deadline = new Date(Date.now() + 20000);
  client.waitForReady(deadline, (err) => {
    if (err) fail('not ready: ' + err.message);
    client.Say({text: 'hello over xds'}, {deadline}, (err2, reply) => {
      if (err2) fail('call: ' + err2.message);
      if (reply.text !== 'hello over xds' || reply.served_by !== 'echo-server') fail('bad reply ' + JSON.stringify(reply));
      console.log('OK ' + reply.text);
      client.close();
      server.forceShutdown();
      process.exit(0);
    });
  });
});
