export * from './schemas.js';
export * from './events.js';
export * from './request.js';
export * from './roomId.js';
export * from './iceRestart.js';
