// Importing this module registers every op family.
import './elementwise.js';
import './reduce.js';
import './shape.js';
