// BullMQ end to end against the server on PORT: plain, delayed, prioritized and bulk
// jobs, a job that fails once and is retried after a backoff, and a parent job that waits
// for its two children (a flow). A worker runs them with concurrency 5; QueueEvents reads
// the completions from the queue's event stream. Prints one JSON line; exits 0 only if
// every job ran once (the failing one twice) and every completion event arrived.
const { Queue, Worker, QueueEvents, FlowProducer } = require('bullmq');

const port = parseInt(process.argv[2] || '6379', 10);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const JOBS = 57;

(async () => {
  const name = 'drill' + Date.now();
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  let done = 0, failedOnce = 0, completedEvents = 0, wrongResults = 0;
  events.on('completed', () => completedEvents++);
  const worker = new Worker(name, async job => {
    if (job.name === 'flaky' && job.attemptsMade === 0) {
      failedOnce++;
      throw new Error('first try fails');
    }
    done++;
    return { doubled: job.data.n * 2 };
  }, { connection, concurrency: 5 });
  worker.on('completed', (job, result) => {
    if (result.doubled !== job.data.n * 2) wrongResults++;
  });

  for (let i = 0; i < 50; i++) await queue.add('plain', { n: i });
  await queue.add('delayed', { n: 100 }, { delay: 300 });
  await queue.add('prio', { n: 200 }, { priority: 3 });
  await queue.add('flaky', { n: 300 }, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
  await queue.addBulk([{ name: 'bulk', data: { n: 1 } }, { name: 'bulk', data: { n: 2 } }]);
  const flow = new FlowProducer({ connection });
  await flow.add({
    name: 'parent', queueName: name, data: { n: 7 },
    children: [{ name: 'child', queueName: name, data: { n: 8 } },
               { name: 'child', queueName: name, data: { n: 9 } }],
  });

  const deadline = Date.now() + 20000;
  while ((done < JOBS || completedEvents < JOBS) && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 100));
  }
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active');
  const result = { done, failedOnce, completedEvents, wrongResults, counts };
  console.log(JSON.stringify(result));
  await worker.close();
  await events.close();
  await flow.close();
  await queue.obliterate({ force: true });
  await queue.close();
  const ok = done === JOBS && failedOnce === 1 && completedEvents === JOBS &&
    wrongResults === 0 && counts.completed === JOBS && counts.failed === 0;
  process.exit(ok ? 0 : 1);
})().catch(e => { console.error('ERROR', e); process.exit(2); });
