// Registers every loss.
import './ce.js';

export { getLoss, type LossDef, lossNames, registerLoss } from './loss.js';
