export { main } from './main.ts';
export { loadConfig, loadDotEnv } from './loadConfig.ts';
