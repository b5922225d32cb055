/**
 * The client's single door to the shared protocol module, so that its location is known
 * in one place.
 */
export * from '../../protocol/index.js';
