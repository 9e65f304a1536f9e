import ts from 'typescript';

/**
 * The compiler options `tsc --init` writes (strict, exactOptionalPropertyTypes,
 * noUncheckedIndexedAccess, NodeNext), which a user's project has and the workspace's own build
 * does not: only a program with these sees what they reject. wxbot's packages are read as
 * sources (`@wxbot/source`), so nothing needs building first.
 */
export const TSC_INIT_OPTIONS: ts.CompilerOptions = {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ESNext,
  types: ['node'],
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  skipLibCheck: true,
  noEmit: true,
  allowImportingTsExtensions: true,
  customConditions: ['@wxbot/source'],
};
