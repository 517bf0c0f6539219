// The crash drill's two halves (see crash.sh).
//   node crash.js load PORT QUEUE ACKED   add jobs from 8 concurrent producers; after
//                                         each add resolves, append "id n" to ACKED
//                                         (synchronously); run until the server dies
//   node crash.js check PORT QUEUE ACKED [SECONDS]
//                                         after the restart: every acknowledged job is
//                                         there, whole, with its data, and waiting;
//                                         nothing else is half there
const fs = require('fs');
const { Queue } = require('bullmq');
const Redis = require('ioredis');

const [mode, portArg, name, ackedPath, seconds] = process.argv.slice(2);
const connection = {
  host: '127.0.0.1', port: parseInt(portArg, 10),
  maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false,
};

async function load() {
  const queue = new Queue(name, { connection });
  queue.on('error', () => {}); // the server is about to be killed
  await queue.waitUntilReady();
  let next = 0;
  const producer = async () => {
    for (;;) {
      const n = next++;
      const job = await queue.add('job', { n, pad: 'x'.repeat(64) });
      fs.appendFileSync(ackedPath, `${job.id} ${n}\n`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, producer)).catch(() => {});
  process.exit(0);
}

async function check() {
  const queue = new Queue(name, { connection });
  const client = new Redis(connection);
  const acked = fs.existsSync(ackedPath)
    ? fs.readFileSync(ackedPath, 'utf8').trim().split('\n').filter(Boolean).map(l => l.split(' '))
    : [];
  let lost = 0, wrong = 0;
  for (const [id, n] of acked) {
    const job = await queue.getJob(id);
    if (!job) { lost++; continue; }
    if (job.data.n !== Number(n) || (await job.getState()) !== 'waiting') wrong++;
  }
  // Every id in the wait list has its job hash (no add applied by half).
  const waiting = await client.lrange(`bull:${name}:wait`, 0, -1);
  let dangling = 0;
  for (const id of waiting) if (!(await client.exists(`bull:${name}:${id}`))) dangling++;
  const extra = waiting.length - (acked.length - lost);
  const result = { acked: acked.length, lost, wrong, waiting: waiting.length, extra, dangling,
    acked_per_s: Math.round(acked.length / Number(seconds || 1)) };
  console.log(JSON.stringify(result));
  await queue.close();
  client.disconnect();
  // Writes in flight when the server died may or may not have landed (at most one per
  // producer); everything acknowledged must have.
  process.exit(lost === 0 && wrong === 0 && dangling === 0 && extra >= 0 && extra <= 8 ? 0 : 1);
}

(mode === 'load' ? load() : check()).catch(e => { console.error('ERROR', e.message); process.exit(2); });
