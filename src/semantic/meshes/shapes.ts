// Procedural meshes of distinct object classes (y up, front along -z, any scale: loadMesh normalises).
// Proportions are loosely those of the real objects; each is a few hundred to a few thousand triangles.
import type { Mesh } from '../mesh.js';
import { box, cylinder, hexa, identity, MeshBuilder, type Place, revolve, torus, translate, type Vec3, yToX, yToZ } from './builder.js';

/** The unit cube [-1,1]^3, 12 triangles: the renderer's golden-test object. */
export function cubeMesh(): Mesh {
  const b = new MeshBuilder();
  box(b, [-1, -1, -1], [1, 1, 1]);
  return b.build('cube');
}

/** A ring torus lying flat (axis y), 64 x 32 quads. */
export function torusMesh(): Mesh {
  const b = new MeshBuilder();
  torus(b, 1, 0.38, 64, 32);
  return b.build('torus');
}

/** A closed upright cone (apex up), its side cut into rings. */
export function coneMesh(): Mesh {
  const b = new MeshBuilder();
  revolve(
    b,
    [
      [0, 2],
      [0.25, 1.5],
      [0.5, 1],
      [0.75, 0.5],
      [1, 0],
      [0.5, 0],
      [0, 0],
    ],
    64,
  );
  return b.build('cone');
}

/** A mug: a cylindrical cup with wall thickness and a bottom, plus a half-torus handle on +x. */
export function mugMesh(): Mesh {
  const b = new MeshBuilder();
  revolve(
    b,
    [
      [0, 0],
      [0.8, 0],
      [0.8, 0.5],
      [0.8, 1],
      [0.8, 1.5],
      [0.8, 2],
      [0.72, 2],
      [0.72, 1.5],
      [0.72, 1],
      [0.72, 0.5],
      [0.72, 0.1],
      [0, 0.1],
    ],
    64,
  );
  // Handle: the outer half of a torus standing in the xy plane, its ends sunk into the wall.
  const standUp: Place = ([x, y, z]) => [x, -z, y];
  torus(b, 0.45, 0.085, 32, 16, translate([0.75, 1.05, 0], standUp), [-Math.PI / 2, Math.PI / 2]);
  return b.build('mug');
}

/** A chair: seat, four round legs, a backrest of two posts, three slats and a top rail. */
export function chairMesh(): Mesh {
  const b = new MeshBuilder();
  box(b, [-0.5, 0.9, -0.5], [0.5, 1.0, 0.5], identity, 3);
  for (const x of [-0.42, 0.42]) for (const z of [-0.42, 0.42]) cylinder(b, 0.05, 0.04, 0, 0.9, 16, translate([x, 0, z]));
  for (const x of [-0.42, 0.42]) cylinder(b, 0.045, 0.045, 1.0, 2.05, 16, translate([x, 0, 0.42]));
  for (const y of [1.3, 1.55, 1.8]) box(b, [-0.42, y, 0.39], [0.42, y + 0.1, 0.45], identity, 2);
  box(b, [-0.48, 2.0, 0.37], [0.48, 2.12, 0.47], identity, 2);
  return b.build('chair');
}

/** A table: a wide thin top on four legs (no backrest: the chair's nearest neighbour class). */
export function tableMesh(): Mesh {
  const b = new MeshBuilder();
  box(b, [-1.1, 1.0, -0.65], [1.1, 1.08, 0.65], identity, 4);
  for (const x of [-0.98, 0.98]) for (const z of [-0.53, 0.53]) cylinder(b, 0.06, 0.05, 0, 1.0, 16, translate([x, 0, z]));
  // A rail under the top joining the legs along the long sides.
  for (const z of [-0.53, 0.53]) box(b, [-0.98, 0.88, z - 0.02], [0.98, 1.0, z + 0.02], identity, 2);
  return b.build('table');
}

/** A car along x: body with sloped nose and tail, a cabin with slanted windows, four wheels with hubs. */
export function carMesh(): Mesh {
  const b = new MeshBuilder();
  const w = 0.85;
  // Lower body: a hexahedron whose top is shorter than its bottom (sloped bumpers).
  const body: Vec3[] = [
    [-2.0, 0.3, -w],
    [2.0, 0.3, -w],
    [2.0, 0.3, w],
    [-2.0, 0.3, w],
    [-2.1, 0.85, -w],
    [1.85, 0.85, -w],
    [1.85, 0.85, w],
    [-2.1, 0.85, w],
  ];
  hexa(b, body, identity, 4);
  const c = 0.72;
  const cabin: Vec3[] = [
    [-1.2, 0.85, -c],
    [1.0, 0.85, -c],
    [1.0, 0.85, c],
    [-1.2, 0.85, c],
    [-0.95, 1.42, -c * 0.9],
    [0.45, 1.42, -c * 0.9],
    [0.45, 1.42, c * 0.9],
    [-0.95, 1.42, c * 0.9],
  ];
  hexa(b, cabin, identity, 4);
  for (const x of [-1.3, 1.3])
    for (const z of [-0.78, 0.78]) {
      const side = z > 0 ? 1 : -1;
      // Tyre (torus) and a disc hub, axles along z.
      torus(b, 0.26, 0.11, 32, 12, translate([x, 0.37, z], yToZ));
      cylinder(b, 0.2, 0.2, -0.06, 0.06, 24, translate([x, 0.37, z + side * 0.01], yToZ));
    }
  return b.build('car');
}

/** An airplane along x: revolved fuselage, swept wings, tailplane and fin. */
export function airplaneMesh(): Mesh {
  const b = new MeshBuilder();
  revolve(
    b,
    [
      [0, 2.3],
      [0.12, 2.2],
      [0.22, 2.0],
      [0.3, 1.6],
      [0.32, 1.0],
      [0.32, 0.0],
      [0.32, -1.0],
      [0.24, -1.7],
      [0.12, -2.2],
      [0, -2.3],
    ],
    32,
    yToX,
  );
  const t = 0.05;
  const wing = (x0: number, x1: number, tip0: number, tip1: number, span: number, y: number): Vec3[] => [
    [x0, y - t, 0],
    [x1, y - t, 0],
    [tip1, y - t, span],
    [tip0, y - t, span],
    [x0, y + t, 0],
    [x1, y + t, 0],
    [tip1, y + t, span],
    [tip0, y + t, span],
  ];
  for (const s of [-1, 1]) {
    const flip = (p: Vec3[]): Vec3[] => p.map(([x, y, z]) => [x, y, s * z] as Vec3);
    hexa(b, flip(wing(-0.5, 0.55, -1.0, -0.55, 2.4, -0.1)), identity, 4);
    hexa(b, flip(wing(-2.15, -1.7, -2.3, -2.05, 0.9, 0.05)), identity, 2);
  }
  // Vertical fin: the same swept shape standing in the xy plane.
  const fin = wing(-2.2, -1.55, -2.35, -2.1, 0.95, 0).map(([x, y, z]) => [x, z + 0.2, y] as Vec3);
  hexa(b, fin, identity, 2);
  return b.build('airplane');
}

/** A wine-bottle-like surface of revolution: body, shoulder, neck and lip. */
export function bottleMesh(): Mesh {
  const b = new MeshBuilder();
  const profile: [number, number][] = [[0, 0]];
  for (let i = 0; i <= 6; i++) profile.push([0.5, (1.3 * i) / 6]);
  // Shoulder: a smooth S from the body radius to the neck radius.
  for (let i = 1; i <= 8; i++) {
    const s = i / 8;
    profile.push([0.5 - 0.33 * (0.5 - 0.5 * Math.cos(Math.PI * s)), 1.3 + 0.55 * s]);
  }
  profile.push([0.17, 2.3], [0.2, 2.32], [0.2, 2.4], [0.15, 2.4], [0.15, 2.2], [0, 2.2]);
  revolve(b, profile, 48);
  return b.build('bottle');
}
