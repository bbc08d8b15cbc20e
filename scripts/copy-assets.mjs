#!/usr/bin/env node
// Copies files the build needs besides compiled TypeScript: the demo page (src/demo/public).
import { cpSync, rmSync } from 'node:fs';

rmSync('dist/demo/public', { recursive: true, force: true });
cpSync('src/demo/public', 'dist/demo/public', { recursive: true });
