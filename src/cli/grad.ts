// `robustscope grad`: per-image losses and the input gradient of a batch, from and to .npy files.
import { type NpyArray, readNpy, writeNpy } from '../data/npy.js';
import { lossNames } from '../losses/index.js';
import { prepareGraph } from '../onnx/prepare.js';
import { type ImageBatch, type LabelBatch, loadModel, type RobustModel } from '../runtime/model.js';
import { CliError, type Command, flag, type Io, int, parse, parseNormalize, position, required, shapeText, str, UsageError } from './common.js';

const HELP = `usage: robustscope grad --model M.onnx --input x.npy --labels y.npy --out g.npy [options]

Computes per-image losses and d(sum of losses)/d(input) in one pass, writes the gradient as a
float32 .npy of the input's shape and prints the per-image losses.

  --model M.onnx        the model (one image input; logits = its first output)
  --input x.npy         images, float32 (float64 is converted) [N,C,H,W], values in [0,1]
  --labels y.npy        int64 / int32 / uint8 labels: [N,H,W] (segmentation) or [N] (classification)
  --out g.npy           where to write the gradient
  --loss NAME           ${lossNames().join(', ')} (default ce-avg)
  --ignore-index K      label value to ignore (default 255)
  --normalize M:S       prepend (x - mean) / std, e.g. 0.485,0.456,0.406:0.229,0.224,0.225
  --threads N           onnxruntime threads (default: all cores)
  -h, --help            this help`;

export const gradCommand: Command = {
  name: 'grad',
  summary: 'per-image losses and the input gradient of a batch (.npy in, .npy out)',
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const p = parse(argv, {
      model: { type: 'string' },
      input: { type: 'string' },
      labels: { type: 'string' },
      out: { type: 'string' },
      loss: { type: 'string' },
      'ignore-index': { type: 'string' },
      normalize: { type: 'string' },
      threads: { type: 'string' },
    });
    if (flag(p, 'help')) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    const modelPath = required(p, 'model');
    const inputPath = required(p, 'input');
    const labelsPath = required(p, 'labels');
    const outPath = required(p, 'out');
    const loss = str(p, 'loss') ?? 'ce-avg';
    if (!lossNames().includes(loss)) throw new UsageError(`unknown loss '${loss}'; available: ${lossNames().join(', ')}`);
    const ignoreIndex = int(p, 'ignore-index', 255);
    const threads = int(p, 'threads', undefined, 1);
    const normalize = parseNormalize(str(p, 'normalize'));

    // Cheap checks first: both arrays are validated before the model is compiled.
    const x = readImages(inputPath, io);
    const y = readNpy(labelsPath);
    const model = await loadModel(modelPath, { normalize, threads });
    checkInputShape(model, x, inputPath);
    const logitsShape = inferLogitsShape(model, x.dims);
    const labels = checkLabels(y, labelsPath, logitsShape, ignoreIndex);

    const res = await model.lossAndGrad(x, labels, { loss, ignoreIndex });
    const perImage = res.logits.length / logitsShape[0];
    const bad = res.logits.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0)
      throw new CliError(
        `the model produced a non-finite logit (${res.logits[bad]}) for image ${Math.floor(bad / perImage)} at ${position(bad, res.logitsDims)}`,
      );
    const badG = res.grad.findIndex((v) => !Number.isFinite(v));
    if (badG >= 0) throw new CliError(`the gradient is non-finite (${res.grad[badG]}) at ${position(badG, x.dims)}; not writing ${outPath}`);
    writeNpy(outPath, { dtype: 'float32', shape: x.dims, data: res.grad });

    io.stdout.write(`image  ${loss}\n`);
    for (const [i, l] of res.losses.entries()) io.stdout.write(`${String(i).padEnd(5)}  ${l.toPrecision(7)}\n`);
    io.stdout.write(`wrote the input gradient, float32 ${shapeText(x.dims)}, to ${outPath}\n`);
    return 0;
  },
};

function readImages(path: string, io: Io): ImageBatch {
  const a = readNpy(path);
  if (a.dtype !== 'float32' && a.dtype !== 'float64') throw new CliError(`'${path}': images must be float32 (or float64), got ${a.dtype}`);
  if (a.shape.length !== 4) throw new CliError(`'${path}': images must be [N,C,H,W], got shape ${shapeText(a.shape)}`);
  if (a.shape.some((d) => d === 0)) throw new CliError(`'${path}': empty image batch ${shapeText(a.shape)}`);
  const data = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as Float64Array);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // float64 values beyond float32 range become Infinity here: check after the conversion.
    if (!Number.isFinite(v)) throw new CliError(`'${path}': non-finite value ${v} at ${position(i, a.shape)}`);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo < 0 || hi > 1)
    io.stderr.write(`robustscope: warning: '${path}' has values in [${lo}, ${hi}]; robustscope expects images in [0,1] (use --normalize to add mean/std)\n`);
  return { data, dims: a.shape };
}

/** The model's declared input shape against the file's: same rank, same fixed dims. */
function checkInputShape(model: RobustModel, x: ImageBatch, path: string): void {
  const want = model.inputShape;
  if (want.length === 0) return;
  const ok = want.length === x.dims.length && want.every((d, k) => typeof d !== 'number' || d === x.dims[k]);
  if (!ok) throw new CliError(`'${path}' has shape ${shapeText(x.dims)} but the model's input '${model.inputName}' is ${shapeText(want)}`);
}

/** Static shape of the logits for this input shape (type inference only, no session). */
function inferLogitsShape(model: RobustModel, dims: number[]): number[] {
  const { builder } = prepareGraph(model.source, { inputShapes: { [model.inputName]: dims }, outputs: [model.outputName] });
  const shape = builder.type(model.outputName).shape;
  if (shape.length < 2) throw new CliError(`the model's output '${model.outputName}' has shape ${shapeText(shape)}; logits must be [N,K] or [N,K,H,W]`);
  return shape;
}

function checkLabels(y: NpyArray, path: string, logits: number[], ignoreIndex: number): LabelBatch {
  if (y.dtype !== 'int64' && y.dtype !== 'int32' && y.dtype !== 'uint8') throw new CliError(`'${path}': labels must be int64, int32 or uint8, got ${y.dtype}`);
  const expected = [logits[0], ...logits.slice(2)];
  if (y.shape.length !== expected.length || y.shape.some((d, k) => d !== expected[k]))
    throw new CliError(`'${path}' has shape ${shapeText(y.shape)} but the model's logits are ${shapeText(logits)}, so labels must be ${shapeText(expected)}`);
  const K = logits[1];
  const d = y.data;
  for (let i = 0; i < d.length; i++) {
    const v = Number(d[i]);
    if (v !== ignoreIndex && (v < 0 || v >= K))
      throw new CliError(`'${path}': label ${v} at ${position(i, y.shape)} is not a class id of this model (0..${K - 1}) nor the ignore index ${ignoreIndex}`);
  }
  const data = y.data instanceof BigInt64Array || y.data instanceof Int32Array ? y.data : Int32Array.from(y.data as Uint8Array);
  return { data, dims: y.shape };
}
