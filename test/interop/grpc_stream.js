// gRPC through remora with grpc-js on both sides (an implementation nobody here wrote).
//   node grpc_stream.js server PORT_FILE        serve Stream on 127.0.0.1:0, write the port
//   node grpc_stream.js client HOST:PORT N      unary, a bidirectional stream of N messages,
//                                               a failing call and a deadline; prints results
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const pkg = grpc.loadPackageDefinition(
    protoLoader.loadSync(path.join(__dirname, 'stream.proto'), {keepCase: true, longs: Number}));
const [mode, arg, count] = process.argv.slice(2);

if (mode === 'server') {
  const server = new grpc.Server();
  server.addService(pkg.remora.test.Stream.service, {
    Unary: (call, cb) => {
      const md = new grpc.Metadata();
      md.set('x-served-by', 'grpc-js');
      call.sendMetadata(md);
      cb(null, {seq: call.request.seq, text: 'echo:' + call.request.text});
    },
    Chat: (call) => {
      let n = 0;
      call.on('data', (m) => { n++; call.write({seq: m.seq, text: 'ack'}); });
      call.on('end', () => {
        const md = new grpc.Metadata();
        md.set('x-count', String(n));
        call.end(md);
      });
    },
    Fail: (call, cb) => {
      const code = Number(call.request.text.split(':')[1]);
      if (code === 99) return;  // never answers (deadline test)
      cb({code, details: 'failed on purpose'});
    },
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    fs.writeFileSync(arg + '.tmp', String(port));
    fs.renameSync(arg + '.tmp', arg);
  });
} else {
  const client = new pkg.remora.test.Stream(arg, grpc.credentials.createInsecure());
  const results = {};
  const done = () => { console.log(JSON.stringify(results)); process.exit(0); };
  client.Unary({seq: 7, text: 'hi'}, (err, reply) => {
    results.unary = err ? 'error ' + err.code + ' ' + err.details : reply.text + ' ' + reply.seq;
    const n = Number(count);
    const call = client.Chat();
    let acks = 0, inOrder = true;
    call.on('data', (m) => { if (m.seq !== acks) inOrder = false; acks++; });
    call.on('metadata', () => {});
    call.on('status', (st) => {
      results.chat = {acks, inOrder, code: st.code, count: st.metadata.get('x-count')[0]};
      client.Fail({text: 'fail:14'}, (ferr) => {
        results.fail = ferr ? ferr.code + ' ' + ferr.details : 'ok';
        const deadline = new Date(Date.now() + 300);
        client.Fail({text: 'fail:99'}, {deadline}, (derr) => {
          results.deadline = derr ? String(derr.code) : 'ok';
          done();
        });
      });
    });
    call.on('error', () => {});
    for (let i = 0; i < n; i++) call.write({seq: i, text: 'm' + i});
    call.end();
  });
}
