import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { packageFunction, zipPackage } from '../package-function.ts';
import type { FunctionZip, PackagedFunction } from '../package-function.ts';
import { generateStack, renderTemplate } from '../template.ts';
import type { Template } from '../template.ts';
import { uploadHashed } from './upload-code.ts';
import type { UploadedObject } from './upload-code.ts';

/** The name of the template `publishFunction` writes beside the zip. */
export const PUBLISHED_TEMPLATE = 'template.yaml';

/** A function package in S3 and the template that deploys it. */
export interface PublishedFunction {
  packaged: PackagedFunction;
  zip: FunctionZip;
  code: UploadedObject;
  template: Template;
  /** What the user must know or do that the template cannot (`Contribution.notes`). */
  notes: string[];
  /** `template` rendered as YAML, as written to `templatePath`. */
  templateText: string;
  templatePath: string;
}

/**
 * Packages the spec into `outDir`, zips it, uploads the zip to `s3://bucket/prefix/<sha256>.zip`
 * (skipped when that object already holds it) and writes `template.yaml` beside the zip, pointing
 * the function at the uploaded code. Throws what `packageFunction` throws for a spec that cannot
 * be packaged, `DeployError` when the upload fails, and `TemplateError` when the stack cannot be
 * generated.
 */
export async function publishFunction(specPath: string, outDir: string, shownPath: string, upload: { s3: S3Client; bucket: string; prefix?: string }): Promise<PublishedFunction> {
  const packaged = await packageFunction(specPath, outDir, shownPath);
  const zip = await zipPackage(packaged);
  const code = await uploadHashed(upload.s3, { name: zip.name, sha256: zip.sha256, bytes: await readFile(zip.path), contentType: 'application/zip' }, upload.bucket, upload.prefix);
  const { template, notes } = generateStack(packaged.spec, { code: { bucket: code.bucket, key: code.key } });
  const templateText = renderTemplate(template, 'yaml');
  const templatePath = join(packaged.directory, PUBLISHED_TEMPLATE);
  await writeFile(templatePath, templateText);
  return { packaged, zip, code, template, notes, templateText, templatePath };
}
