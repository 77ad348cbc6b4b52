// Writes bench/train-step/results.md and results.json from the per-round worker results of run.sh.
// Usage: node bench/train-step/report.mjs --in RESULTS --models MODELS --out DIR --cmd "COMMAND"
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    in: { type: 'string' },
    models: { type: 'string' },
    out: { type: 'string' },
    cmd: { type: 'string' },
    name: { type: 'string', default: 'results' },
  },
});
const ENGINES = ['robustscope', 'pytorch', 'pytorch-malloc'];
const rounds = readdirSync(a.in)
  .filter((d) => d.startsWith('round-'))
  .sort((p, q) => Number(p.slice(6)) - Number(q.slice(6)));
const archs = [
  ...new Set(
    readdirSync(join(a.in, rounds[0]))
      .filter((f) => f.endsWith('.load'))
      .map((f) => f.slice(0, -5)),
  ),
];
const order = ['resnet-tiny-fcn', 'resnet-tiny-upernet', 'convnext-tiny-upernet'];
archs.sort((p, q) => (order.indexOf(p) + 1 || 99) - (order.indexOf(q) + 1 || 99));

const median = (v) => {
  const s = [...v].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f1 = (v) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(1));
const f0 = (v) => v.toFixed(0);

const data = {};
for (const arch of archs) {
  const meta = JSON.parse(readFileSync(join(a.models, arch, 'meta.json'), 'utf8'));
  const perRound = rounds.map((r) => {
    const load = Number(readFileSync(join(a.in, r, `${arch}.load`), 'utf8'));
    const res = {};
    for (const e of ENGINES) {
      const p = join(a.in, r, `${arch}.${e}.json`);
      if (existsSync(p)) res[e] = JSON.parse(readFileSync(p, 'utf8'));
    }
    return { round: Number(r.slice(6)), load, res };
  });
  const pooled = {};
  for (const e of ENGINES) {
    const runs = perRound.map((p) => p.res[e]).filter(Boolean);
    if (!runs.length) continue;
    const timed = runs.flatMap((r) => r.steps.filter((s) => !s.warmup));
    // robustscope runs the attack and the training pass in one call (attackTrain); PyTorch reports both.
    for (const s of timed) s.attackTrain ??= s.attack + s.train;
    const st = (k) => ({ median: median(timed.map((s) => s[k])), min: Math.min(...timed.map((s) => s[k])), max: Math.max(...timed.map((s) => s[k])) });
    pooled[e] = {
      total: st('total'),
      attack: st('attack'),
      train: st('train'),
      attackTrain: st('attackTrain'),
      optim: st('optim'),
      cpu: timed.every((s) => s.cpu !== undefined) ? st('cpu') : undefined,
      rssMB: Math.max(...runs.map((r) => r.maxRssMB)),
      faultsPerStep: median(runs.map((r) => r.faultsPerStep)),
      firstStepMs: median(runs.map((r) => r.firstStepMs)),
      firstLoss: runs[0].losses[0],
      lastLoss: runs[0].losses[runs[0].losses.length - 1],
      logitsDiff: e === 'robustscope' ? undefined : Math.max(...runs.map((r) => r.logitsCheck?.maxAbsDiff ?? Number.NaN)),
      maxLogit: runs[0].logitsCheck?.maxAbsLogit,
      params: runs[0].params,
      steps: timed.length,
    };
  }
  data[arch] = { meta, perRound, pooled };
}

const first = data[archs[0]].perRound[0].res;
const rs0 = first.robustscope;
const pt0 = first.pytorch;
let ortVersion = '?';
try {
  ortVersion = JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')).version;
} catch {}
const L = [];
L.push('# Training-step benchmark: robustscope vs PyTorch eager (issue 5 "Performance")');
L.push('');
L.push(
  `\`${a.cmd}\`, ${new Date().toISOString().slice(0, 10)}: ${cpus()[0]?.model ?? 'CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${rs0.versions.node}, onnxruntime-node ${ortVersion}, torch ${pt0.versions.torch} (Python ${pt0.versions.python}); ${rs0.threads} threads for both engines.`,
);
L.push('');
L.push(
  `One step = the PIR-AT recipe on a fixed batch ${rs0.batch.join('x')} (the first ${rs0.batch[0]} images of \`robustscope data shapes --size ${rs0.batch[2]}\`, 6 classes, ignore 255): ` +
    'PGD-CE attack (eps 4/255, 2 steps of 0.01, zero init, model in eval mode, last iterate; per-image ce-avg, main head only) + ' +
    'training-mode forward, batch-mean ce-avg + 0.4 x aux ce-avg (models with `aux_logits`), backward (BatchNorm on batch statistics, running statistics updated) + ' +
    "AdamW (lr 1e-3, wd 1e-2, no decay on robustscope's 'norm'/'bias' parameters in both). " +
    `Per arch ${rounds.length} round(s) x ${rs0.reps} timed steps after ${rs0.warmup} warm-up steps, each engine in a fresh process per round; the engines alternate (order reversed every round).`,
);
L.push('');
L.push(
  'ms/step: median (min) over all timed steps of all rounds. **ratio** = robustscope median / PyTorch median (below 1: robustscope faster; target <= 1.2, aim <= 1.0); ' +
    'ratio of mins = robustscope min / PyTorch min (the least disturbed step of each: the better estimate while the machine is overloaded).',
);
L.push('');
L.push(
  '| arch | params | robustscope ms/step | PyTorch ms/step | ratio | ratio of mins | PyTorch+malloc ms/step | ratio vs +malloc | ratio of mins vs +malloc | peak RSS MB robustscope / PyTorch / PyTorch+malloc |',
);
L.push('|---|---|---|---|---|---|---|---|---|---|');
for (const arch of archs) {
  const p = data[arch].pooled;
  const r = p.robustscope;
  const t = p.pytorch;
  const m = p['pytorch-malloc'];
  L.push(
    `| ${arch} | ${r.params.toLocaleString('en-US')} | ${f1(r.total.median)} (${f1(r.total.min)}) | ${f1(t.total.median)} (${f1(t.total.min)}) | **${(r.total.median / t.total.median).toFixed(2)}** | ${(r.total.min / t.total.min).toFixed(2)} | ` +
      `${m ? `${f1(m.total.median)} (${f1(m.total.min)})` : '–'} | ${m ? `**${(r.total.median / m.total.median).toFixed(2)}**` : '–'} | ${m ? (r.total.min / m.total.min).toFixed(2) : '–'} | ${f0(r.rssMB)} / ${f0(t.rssMB)} / ${m ? f0(m.rssMB) : '–'} |`,
  );
}
L.push('');
L.push(
  'Where the time goes (median ms per step: attack = 2 x (forward + input gradient) in eval mode; train = training-mode forward + loss + all weight gradients; robustscope runs both in one onnxruntime call, so only their sum is timed; optim = AdamW update), and minor page faults per step:',
);
L.push('');
L.push(
  '| arch | engine | attack | train | attack + train | optim | total | CPU ms / step (user+sys, all threads) | page faults / step | first step ms (incl. compile) |',
);
L.push('|---|---|---|---|---|---|---|---|---|---|');
for (const arch of archs)
  for (const e of ENGINES) {
    const p = data[arch].pooled[e];
    if (!p) continue;
    L.push(
      `| ${arch} | ${e} | ${f1(p.attack.median)} | ${f1(p.train.median)} | ${f1(p.attackTrain.median)} | ${f1(p.optim.median)} | ${f1(p.total.median)} | ${p.cpu ? f1(p.cpu.median) : '–'} | ${f0(p.faultsPerStep)} | ${f0(p.firstStepMs)} |`,
    );
  }
L.push('');
L.push(
  'Same model, same recipe (checked in every PyTorch run): eval-mode logits of the seed-0 weights on the batch, PyTorch rebuild vs robustscope (a run fails above 1e-4 x max |logit|), and the training objective of the first step (same weights, same images, attack included) and of the last step (the trajectories drift apart by float rounding, amplified by the sign steps and Adam):',
);
L.push('');
L.push('| arch | max abs logit diff (max abs logit) | first-step loss robustscope / PyTorch | last-step loss robustscope / PyTorch |');
L.push('|---|---|---|---|');
for (const arch of archs) {
  const p = data[arch].pooled;
  const d = Math.max(p.pytorch.logitsDiff, p['pytorch-malloc']?.logitsDiff ?? 0);
  L.push(
    `| ${arch} | ${d.toExponential(1)} (${p.pytorch.maxLogit.toFixed(1)}) | ${p.robustscope.firstLoss.toFixed(5)} / ${p.pytorch.firstLoss.toFixed(5)} | ${p.robustscope.lastLoss.toFixed(4)} / ${p.pytorch.lastLoss.toFixed(4)} |`,
  );
}
L.push('');
L.push('Noise: per-round medians (ms/step) and the 1-minute load average when the round started for that arch:');
L.push('');
L.push('| arch | round | load | robustscope | PyTorch | PyTorch+malloc | ratio (vs PyTorch) |');
L.push('|---|---|---|---|---|---|---|');
for (const arch of archs)
  for (const pr of data[arch].perRound) {
    const g = (e) => pr.res[e]?.ms.total.median;
    L.push(
      `| ${arch} | ${pr.round} | ${pr.load.toFixed(1)} | ${f1(g('robustscope'))} | ${f1(g('pytorch'))} | ${g('pytorch-malloc') ? f1(g('pytorch-malloc')) : '–'} | ${(g('robustscope') / g('pytorch')).toFixed(2)} |`,
    );
  }
L.push('');
const notes = join(a.out, `${a.name}.notes.md`);
if (existsSync(notes)) L.push(readFileSync(notes, 'utf8').trim(), '');
writeFileSync(join(a.out, `${a.name}.md`), L.join('\n'));
writeFileSync(
  join(a.out, `${a.name}.json`),
  JSON.stringify(
    {
      command: a.cmd,
      date: new Date().toISOString(),
      archs: Object.fromEntries(
        archs.map((arch) => [arch, { meta: { ...data[arch].meta, roles: undefined }, pooled: data[arch].pooled, rounds: data[arch].perRound }]),
      ),
    },
    null,
    1,
  ),
);
