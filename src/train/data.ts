// Adapters from the dataset readers to the loop's random-access TrainData.

import type { Dataset } from '../data/datasets.js';
import type { ClassificationDataset } from '../data/image-folder.js';
import type { TrainData } from './loop.js';

export function segmentationData(ds: Dataset): TrainData {
  return {
    task: 'segmentation',
    classes: ds.classes.names,
    count: ds.count,
    ignoreIndex: ds.ignoreIndex,
    async get(i) {
      const s = await ds.get(i);
      return { id: s.id, image: s.image, width: s.width, height: s.height, label: s.label };
    },
  };
}

export function classificationData(ds: ClassificationDataset): TrainData {
  return {
    task: 'classification',
    classes: ds.classes,
    count: ds.count,
    ignoreIndex: -1,
    async get(i) {
      const s = await ds.get(i);
      return { id: s.id, image: s.image, width: s.width, height: s.height, label: s.classId };
    },
  };
}
