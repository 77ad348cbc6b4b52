// The image transforms of image-transform.ts as an ONNX subgraph, so the score of a transformed image can
// be differentiated w.r.t. the transform by our autodiff (spec "Gradients of f w.r.t. u": exact gradients
// for image-space transforms). Same order and conventions as transformImage():
//   1. affine warp, bilinear, zero fill: source coordinates sx = ax x + bx y + cx, sy = ay x + by y + cy
//      (one MatMul per coordinate), x0 = Floor(sx), fx = sx - x0; the four corners are gathered from the
//      constant base image with int64 indices (corners outside the image masked to 0). Floor and the
//      indices carry no gradient, so it flows through the bilinear weights only: exact almost everywhere
//      (kinks where a source coordinate crosses a pixel row or column), as PyTorch's grid_sample;
//   2. blur: out = M_H X M_W^T with M_n(sigma) the n x n clamp-to-edge Gaussian matrix, fed as inputs
//      (one per point) so d/dsigma follows from the gradients w.r.t. the matrices and dM/dsigma;
//   3. brightness Clip(x b, 0, 1); 4. contrast Clip((x - m) c + m, 0, 1), m the mean over the image.
// The graph's parameter input P [N, 8] holds (ax, bx, cx, ay, by, cy, brightness, contrast), not u
// itself: the inverse affine map is computed from (rotation, scale, tx, ty) in float64 in TypeScript (as
// transformImage does, with exact quarter turns) and its Jacobian applied there by the chain rule. The
// graph needs no Sin/Cos op, and float32 sees only the final coefficients.
// Assumes the base image lies in [0,1] (checked): then the warp and blur stay in [0,1], so the in-graph
// clamps that transformImage skips at brightness = 1 or contrast = 1 change nothing.
import { GraphBuilder } from '../onnx/builder.js';
import { type Graph, tensorFromNumbers } from '../onnx/ir.js';
import '../ops/all.js';
import { serializeGraph } from '../onnx/serialize.js';
import { Session } from '../runtime/session.js';
import { cosSinDeg, gaussianKernel, type ImageShape, TransformError } from './image-transform.js';

/** Columns of the graph's parameter input P [N, 8]. */
export const P_COLUMNS = ['ax', 'bx', 'cx', 'ay', 'by', 'cy', 'brightness', 'contrast'] as const;
export const P_WIDTH = P_COLUMNS.length;
/** Full image-space point layout (IMAGE_DIMS order in space.ts). */
export const U_WIDTH = 7;

export interface AffineRow {
  /** The P row (float64). */
  p: Float64Array;
  /** dP/du, row-major [P_WIDTH][U_WIDTH] over u = (rotation, scale, tx, ty, brightness, contrast, blur). */
  jac: Float64Array;
}

/**
 * P row of a full image-space point u (7 values, IMAGE_DIMS order) and its Jacobian. Mirrors
 * inverseAffine() in image-transform.ts: sx = ax (x - mx - tx) + bx (y - my - ty) + mx with
 * (ax, bx; ay, by) = R(-rotation) / scale.
 */
export function affineRow(u: ArrayLike<number>, height: number, width: number): AffineRow {
  const [cos, sin] = cosSinDeg(u[0]);
  const s = u[1];
  const mx = (width - 1) / 2;
  const my = (height - 1) / 2;
  const ax = cos / s;
  const bx = -sin / s;
  const ay = sin / s;
  const by = cos / s;
  const ox = -mx - u[2];
  const oy = -my - u[3];
  const p = Float64Array.of(ax, bx, ax * ox + bx * oy + mx, ay, by, ay * ox + by * oy + my, u[4], u[5]);
  const jac = new Float64Array(P_WIDTH * U_WIDTH);
  const set = (row: number, col: number, v: number): void => {
    jac[row * U_WIDTH + col] = v;
  };
  // Linear part and offsets as functions of one parameter: [dax, dbx, day, dby] -> c derivatives.
  const lin = (col: number, dax: number, dbx: number, day: number, dby: number): void => {
    set(0, col, dax);
    set(1, col, dbx);
    set(3, col, day);
    set(4, col, dby);
    set(2, col, dax * ox + dbx * oy);
    set(5, col, day * ox + dby * oy);
  };
  const k = Math.PI / 180; // rotation is in degrees
  lin(0, (-sin * k) / s, (-cos * k) / s, (cos * k) / s, (-sin * k) / s);
  lin(1, -ax / s, -bx / s, -ay / s, -by / s);
  // tx, ty enter the offsets only: d ox / d tx = -1.
  set(2, 2, -ax);
  set(5, 2, -ay);
  set(2, 3, -bx);
  set(5, 3, -by);
  set(6, 4, 1);
  set(7, 5, 1);
  return { p, jac };
}

/**
 * The n x n matrix of transformImage's 1-D blur (clamp-to-edge Gaussian of std sigma, radius
 * max(1, ceil(3 sigma))) and its derivative w.r.t. sigma (at fixed radius), both row-major: out[i] =
 * sum_i' M[i, i'] in[i']. sigma = 0 gives the identity (and dM = 0, the right-hand limit).
 */
export function blurMatrix(sigma: number, n: number): { m: Float64Array; dm: Float64Array } {
  const m = new Float64Array(n * n);
  const dm = new Float64Array(n * n);
  const k = gaussianKernel(sigma);
  if (k.length === 1) {
    for (let i = 0; i < n; i++) m[i * n + i] = 1;
    return { m, dm };
  }
  const R = (k.length - 1) / 2;
  // k_j = e_j / S with e_j = exp(-j^2 / (2 sigma^2)): dk_j = (e_j' - k_j S') / S, e_j' = e_j j^2 / sigma^3.
  const e = new Float64Array(k.length);
  const de = new Float64Array(k.length);
  let S = 0;
  let dS = 0;
  for (let j = -R; j <= R; j++) {
    e[j + R] = Math.exp(-(j * j) / (2 * sigma * sigma));
    de[j + R] = (e[j + R] * j * j) / sigma ** 3;
    S += e[j + R];
    dS += de[j + R];
  }
  for (let i = 0; i < n; i++)
    for (let j = -R; j <= R; j++) {
      const src = Math.min(n - 1, Math.max(0, i + j));
      m[i * n + src] += k[j + R];
      dm[i * n + src] += (de[j + R] - (e[j + R] / S) * dS) / S;
    }
  return { m, dm };
}

export interface TransformGraph {
  /** Parameter input P [N, 8] (float32, P_COLUMNS). */
  params: string;
  /** Blur matrix inputs when built with blur: M_H [N,1,H,H] and M_W^T [N,1,W,W]. */
  blurV?: string;
  blurHT?: string;
  /** The transformed images [N, C, H, W]. */
  output: string;
}

/** Throws a TransformError unless the base image has C*H*W values, all in [0,1]. */
export function checkBaseImage(image: Float32Array, shape: ImageShape, where: string): void {
  const { channels: C, height: H, width: W } = shape;
  if (![C, H, W].every((d) => Number.isInteger(d) && d > 0) || image.length !== C * H * W)
    throw new TransformError(`${where}: ${image.length} values do not make a ${C}x${H}x${W} image`);
  for (let i = 0; i < image.length; i++)
    if (!(image[i] >= 0 && image[i] <= 1)) throw new TransformError(`${where}: the base image must lie in [0,1]; value ${i} is ${image[i]}`);
}

const INPUT_P = 'robustscope/transform/params';
const INPUT_BV = 'robustscope/transform/blur_v';
const INPUT_BHT = 'robustscope/transform/blur_ht';

function addInput(b: GraphBuilder, graph: Graph, name: string, shape: number[]): string {
  b.reserve(name);
  graph.inputs.push({ name, dtype: 'float32', shape });
  b.types.set(name, { dtype: 'float32', shape });
  return name;
}

/**
 * Appends to `graph` (through `b`) the transform of the constant base image for a batch of N points:
 * new graph inputs P (and the blur matrices when `blur`), output [N, C, H, W].
 */
export function emitImageTransform(b: GraphBuilder, graph: Graph, image: Float32Array, shape: ImageShape, N: number, opts: { blur: boolean }): TransformGraph {
  checkBaseImage(image, shape, 'emitImageTransform');
  const { channels: C, height: H, width: W } = shape;
  const HW = H * W;
  const params = addInput(b, graph, INPUT_P, [N, P_WIDTH]);
  const f = (v: number) => b.scalar(v);
  const col = (from: number, to: number) => b.emit('Slice', [params, b.ints([from]), b.ints([to]), b.ints([1])]);
  // Output pixel coordinates as rows (x, y, 1): sx = P[:, 0:3] @ grid, sy = P[:, 3:6] @ grid.
  const grid = new Float32Array(3 * HW);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      grid[y * W + x] = x;
      grid[HW + y * W + x] = y;
      grid[2 * HW + y * W + x] = 1;
    }
  const gridT = b.constant(tensorFromNumbers('float32', [3, HW], grid), 'pixel_grid');
  const sx = b.emit('MatMul', [col(0, 3), gridT]);
  const sy = b.emit('MatMul', [col(3, 6), gridT]);
  // Per axis: floor, fraction, validity of the two neighbours, their clamped integer positions.
  const axis = (s: string, n: number) => {
    const i0 = b.emit('Floor', [s]);
    const frac = b.emit('Sub', [s, i0]);
    const i1 = b.emit('Add', [i0, f(1)]);
    const inside = (i: string) => b.emit('Cast', [b.emit('And', [b.emit('GreaterOrEqual', [i, f(0)]), b.emit('LessOrEqual', [i, f(n - 1)])])], { to: 1 });
    const w0 = b.emit('Mul', [b.emit('Sub', [f(1), frac]), inside(i0)]);
    const w1 = b.emit('Mul', [frac, inside(i1)]);
    const clampI = (i: string) => b.emit('Clip', [i, f(0), f(n - 1)]);
    return { w0, w1, p0: clampI(i0), p1: clampI(i1) };
  };
  const ax = axis(sx, W);
  const ay = axis(sy, H);
  const img = b.constant(tensorFromNumbers('float32', [C, HW], image), 'base_image');
  const corner = (xi: string, yi: string, wx: string, wy: string) => {
    const idx = b.emit('Cast', [b.emit('Add', [b.emit('Mul', [yi, f(W)]), xi])], { to: 7 });
    const v = b.emit('Gather', [img, idx], { axis: 1 }); // [C, N, HW]
    return b.emit('Mul', [v, b.emit('Mul', [wx, wy])]);
  };
  const warped = b.emit('Sum', [
    corner(ax.p0, ay.p0, ax.w0, ay.w0),
    corner(ax.p1, ay.p0, ax.w1, ay.w0),
    corner(ax.p0, ay.p1, ax.w0, ay.w1),
    corner(ax.p1, ay.p1, ax.w1, ay.w1),
  ]);
  let x = b.emit('Reshape', [b.emit('Transpose', [warped], { perm: [1, 0, 2] }), b.ints([N, C, H, W])]);
  const out: Partial<TransformGraph> = { params };
  if (opts.blur) {
    out.blurV = addInput(b, graph, INPUT_BV, [N, 1, H, H]);
    out.blurHT = addInput(b, graph, INPUT_BHT, [N, 1, W, W]);
    x = b.emit('MatMul', [b.emit('MatMul', [out.blurV, x]), out.blurHT]);
  }
  const flat = b.emit('Reshape', [x, b.ints([N, C * HW])]);
  const bright = b.emit('Clip', [b.emit('Mul', [flat, col(6, 7)]), f(0), f(1)]);
  const mean = b.emit('ReduceMean', [bright, b.ints([1])], { keepdims: 1 });
  const contrast = b.emit('Clip', [b.emit('Add', [b.emit('Mul', [b.emit('Sub', [bright, mean]), col(7, 8)]), mean]), f(0), f(1)]);
  out.output = b.emit('Reshape', [contrast, b.ints([N, C, H, W])]);
  return out as TransformGraph;
}

/** Graph feeds for full image-space points (7 values each): P and, with blur, the blur matrices. */
export function transformFeeds(
  points: readonly ArrayLike<number>[],
  shape: ImageShape,
  blur: boolean,
): { P: Float32Array; blurV?: Float32Array; blurHT?: Float32Array } {
  const { height: H, width: W } = shape;
  const N = points.length;
  const P = new Float32Array(N * P_WIDTH);
  points.forEach((u, n) => {
    P.set(affineRow(u, H, W).p, n * P_WIDTH);
  });
  if (!blur) return { P };
  const blurV = new Float32Array(N * H * H);
  const blurHT = new Float32Array(N * W * W);
  points.forEach((u, n) => {
    blurV.set(blurMatrix(u[6], H).m, n * H * H);
    const mw = blurMatrix(u[6], W).m;
    for (let i = 0; i < W; i++) for (let j = 0; j < W; j++) blurHT[n * W * W + j * W + i] = mw[i * W + j];
  });
  return { P, blurV, blurHT };
}

/**
 * The transformed images of full image-space points computed by the ONNX subgraph alone (one session per
 * call): for checking the graph against transformImage().
 */
export async function transformImagesInGraph(image: Float32Array, shape: ImageShape, points: readonly ArrayLike<number>[]): Promise<Float32Array> {
  const N = points.length;
  const blur = points.some((u) => u[6] !== 0);
  const graph: Graph = { name: 'transform', nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map() };
  const b = new GraphBuilder(graph, 'rs');
  const t = emitImageTransform(b, graph, image, shape, N, { blur });
  graph.outputs = [{ name: t.output, dtype: 'float32', shape: b.type(t.output).shape }];
  const session = await Session.create(serializeGraph(graph), { threads: 1 });
  const feeds = transformFeeds(points, shape, blur);
  const { channels: C, height: H, width: W } = shape;
  const res = await session.run({
    [t.params]: { data: feeds.P, dims: [N, P_WIDTH], dtype: 'float32' },
    ...(blur && t.blurV && t.blurHT
      ? {
          [t.blurV]: { data: feeds.blurV as Float32Array, dims: [N, 1, H, H], dtype: 'float32' },
          [t.blurHT]: { data: feeds.blurHT as Float32Array, dims: [N, 1, W, W], dtype: 'float32' },
        }
      : {}),
  });
  await session.release();
  const data = res[t.output].data as Float32Array;
  if (data.length !== N * C * H * W) throw new TransformError(`transformImagesInGraph: got ${data.length} values for ${N} images`);
  return data;
}
