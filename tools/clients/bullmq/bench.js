// node bench.js PORT SECONDS: 8 concurrent producers add BullMQ jobs (each add is one
// EVALSHA of BullMQ's addStandardJob script, about a dozen writes) for SECONDS after the
// queue is ready; prints jobs added per second.
const { Queue } = require('bullmq');

const [portArg, secondsArg] = process.argv.slice(2);
const connection = { host: '127.0.0.1', port: parseInt(portArg, 10) };
(async () => {
  const queue = new Queue('bench' + Date.now(), { connection });
  await queue.waitUntilReady();
  await queue.add('warm', { n: -1 });
  const end = Date.now() + 1000 * Number(secondsArg || 5);
  let added = 0;
  const producer = async () => {
    while (Date.now() < end) {
      await queue.add('job', { n: added, pad: 'x'.repeat(64) });
      added++;
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 8 }, producer));
  console.log(Math.round(added / ((Date.now() - t0) / 1000)));
  await queue.obliterate({ force: true });
  await queue.close();
})().catch(e => { console.error('ERROR', e.message); process.exit(2); });
