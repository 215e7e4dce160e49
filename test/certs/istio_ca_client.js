// An Istio-style agent written with grpc-js (software nobody here wrote): one call to
// /istio.v1.auth.IstioCertificateService/CreateCertificate with a CSR and a bearer token.
//   node istio_ca_client.js HOST:PORT CSR_FILE TOKEN_FILE|- VALIDITY_SECONDS
// Prints one JSON line: {"code": <grpc status>, "details": "...", "cert_chain": [...]}.
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [target, csrFile, tokenFile, validity] = process.argv.slice(2);
const def = protoLoader.loadSync('certs/proto/ca.proto', {
  keepCase: true,
  longs: Number,
  includeDirs: [path.join(__dirname, '..', '..')],
});
const pkg = grpc.loadPackageDefinition(def);
const client = new pkg.istio.v1.auth.IstioCertificateService(
    target, grpc.credentials.createInsecure());
const md = new grpc.Metadata();
if (tokenFile !== '-') {
  md.set('authorization', 'Bearer ' + fs.readFileSync(tokenFile, 'utf8').trim());
}
const request = {
  csr: fs.readFileSync(csrFile, 'utf8'),
  validity_duration: Number(validity),
  metadata: {fields: {ClusterID: {string_value: 'Kubernetes'}}},
};
client.CreateCertificate(request, md, {deadline: Date.now() + 10000}, (err, resp) => {
  const out = err ? {code: err.code, details: err.details, cert_chain: []}
                  : {code: 0, details: '', cert_chain: resp.cert_chain};
  console.log(JSON.stringify(out));
  process.exit(0);
});
