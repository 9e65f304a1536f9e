export { createProject, type CreateProjectOptions, type CreatedProject } from './createProject.ts';
export { main } from './main.ts';
