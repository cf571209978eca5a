// Handlebars' runtime internals that handlebars-engine.ts calls to do a render's setup once per
// template (docs/decisions/0050-specialized-templates.md). The package has no exports map and no
// declarations for them; these are the signatures of handlebars 4.7.
declare module 'handlebars/dist/cjs/handlebars/internal/proto-access.js' {
  export interface ProtoAccessControl {
    readonly properties: unknown;
    readonly methods: unknown;
  }
  export function createProtoAccessControl(runtimeOptions: RuntimeOptions): ProtoAccessControl;
  export function resultIsAllowed(result: unknown, protoAccessControl: ProtoAccessControl, propertyName: unknown): boolean;
  export function isPrototypeConstructor(parent: unknown, propertyName: unknown, result: unknown): boolean;
}

declare module 'handlebars/dist/cjs/handlebars/internal/wrapHelper.js' {
  export function wrapHelper<T>(helper: T, transformOptions: (options: HelperOptions) => HelperOptions): T;
}

declare module 'handlebars/dist/cjs/handlebars/helpers.js' {
  export function moveHelperToHooks(
    container: { helpers: Record<string, unknown>; hooks: Record<string, unknown> },
    helperName: string,
    keepHelper: boolean,
  ): void;
}
