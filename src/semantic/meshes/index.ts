// The bundled meshes (no network needed): the Stanford bunny plus procedural object classes.
import type { Mesh } from '../mesh.js';
import { bunnyMesh } from './bunny.js';
import { airplaneMesh, bottleMesh, carMesh, chairMesh, coneMesh, cubeMesh, mugMesh, tableMesh, torusMesh } from './shapes.js';
import { teapot } from './teapot.js';

const MAKERS: Record<string, () => Mesh> = {
  bunny: bunnyMesh,
  teapot: () => teapot(10),
  torus: torusMesh,
  cone: coneMesh,
  mug: mugMesh,
  chair: chairMesh,
  table: tableMesh,
  car: carMesh,
  airplane: airplaneMesh,
  bottle: bottleMesh,
  cube: cubeMesh,
};

/** Names loadMesh accepts besides OBJ paths. All but `cube` (the test object) are classifier classes. */
export const BUNDLED_MESH_NAMES: readonly string[] = Object.keys(MAKERS);

/** The object classes meant for a classifier of rendered meshes (every bundled mesh except the cube). */
export const MESH_CLASSES: readonly string[] = BUNDLED_MESH_NAMES.filter((n) => n !== 'cube');

/** A bundled mesh as generated (not normalised), or undefined for an unknown name. */
export function bundledMesh(name: string): Mesh | undefined {
  return Object.hasOwn(MAKERS, name) ? MAKERS[name]() : undefined;
}
