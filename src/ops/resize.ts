import { type OpDef, registerOps } from './registry.js';

const ops: OpDef[] = [];

registerOps(ops);
