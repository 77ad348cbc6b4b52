// Importing this module registers every op family.
import './elementwise.js';
import './reduce.js';
import './shape.js';
import './conv.js';
import './pool.js';
import './resize.js';
import './norm.js';
