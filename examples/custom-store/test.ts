// node --import tsx --test examples/custom-store/test.ts
import { storeConformance } from 'baton-session/testing';
import { MapStore } from './map-store.js';

storeConformance({ name: 'MapStore', create: () => new MapStore() });
