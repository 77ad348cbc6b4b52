// robustscope's library API.

// Training (PIR-AT, pirat.md): trainable models, optimizers, the loop, robust-backbone transfer.
export { type ArchOptions, type ArchSpec, buildArch, getArch, listArchs } from './arch/registry.js';
export { type ApgdOptions, type ApgdResult, apgd } from './attacks/apgd.js';
export { makeOracle, type Oracle, type Probe } from './attacks/oracle.js';
export { type PgdOptions, pgd, pgdStepSize } from './attacks/pgd.js';
export { apgdPrr, type PrrOptions } from './attacks/prr.js';
export { apgdCheckpoints, prrStages } from './attacks/schedule.js';
export { type AttackSpec, BASELINES, ENSEMBLES, type Ensemble, runAttack, seaAttacks } from './attacks/sea.js';
export { type Norm, perturbationNorm, projectImage, type Threat } from './attacks/threat.js';
export { buildGradients, NoGradientError } from './autodiff/gradient.js';
export { type Dataset, type DatasetOptions, openDataset } from './data/datasets.js';
export { aggregateResults, metricsOf } from './eval/aggregate.js';
export type { ImageRecord } from './eval/records.js';
export { type EvaluationInput, runEvaluation, type Sample } from './eval/run.js';
export type { EpsResult, Metrics, Results, RunConfig, WorstCase } from './eval/schema.js';
export { getLoss, type LossDef, lossNames, registerLoss } from './losses/index.js';
export { datasetMetrics, imageStats, worstCaseAccuracy, worstCaseMIoU } from './metrics/confusion.js';
export { GraphBuilder } from './onnx/builder.js';
export { decodeModel, encodeModel } from './onnx/codec.js';
export type { DType, Graph, Model as OnnxModel, Node, Tensor } from './onnx/ir.js';
export { ModelLoadError, readOnnxFile } from './onnx/load.js';
export { prepareGraph, UnsupportedOpsError } from './onnx/prepare.js';
export { getOp, type OpDef, registeredOps } from './ops/registry.js';
export {
  type EvalResult,
  type EvalSpec,
  type ImageBatch,
  type LabelBatch,
  type LoadOptions,
  type LossAndGradResult,
  loadModel,
  RobustModel,
} from './runtime/model.js';
// Semantic robustness (semantic.md): parameter spaces, maps, robust regions, SRVR.
export { DEFAULT_GRID_1D, DEFAULT_GRID_2D, type Grid, parseGrid } from './semantic/grid.js';
export { type EvalOptions, type SemanticMap, scoreOracle, semanticMap } from './semantic/map.js';
export { loadMesh, type Mesh } from './semantic/mesh.js';
export {
  type Box,
  type Domain,
  type FindRegionOptions,
  findRegion,
  REFERENCE_DOMAIN,
  REGION_METHODS,
  type RegionMethod,
  type RegionResult,
} from './semantic/regions.js';
export type { Target } from './semantic/score.js';
export { imageSpace, type ParameterSpace, restrictSpace, viewpointSpace } from './semantic/space.js';
export { aggregateSrvr, srvr } from './semantic/srvr.js';
export { adversarialBatch, type TrainAdversary } from './train/adversary.js';
export { classificationData, segmentationData } from './train/data.js';
export {
  type EpochLog,
  type EvalPoint,
  evaluateSplit,
  type TrainConfig,
  type TrainData,
  TrainError,
  type TrainEvents,
  type TrainInputs,
  type TrainResult,
  train,
} from './train/loop.js';
export { type LrSchedule, polySchedule } from './train/lr-schedule.js';
export { AdamW, type AdamWOptions, Optimizer, OptimizerError, type ParamGroupSpec, type ParamSource, SGD, type SgdOptions } from './train/optim.js';
export { type AuxHead, type ParameterInfo, type StepOptions, type StepResult, TrainableModel, type TrainLoss } from './train/trainable.js';
export { TransferError, type TransferReport, transferWeights } from './train/transfer.js';
export { Rng } from './util/random.js';
