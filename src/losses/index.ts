// Registers every loss.
import './ce.js';
import './sea.js';

export { getLoss, type LossDef, lossNames, registerLoss } from './loss.js';
