/**
 * Prepares a copy of Windows' node.exe to become mailroot.exe, before the SEA blob goes in: removes Node's
 * Authenticode signature (injecting the blob would leave it present but invalid, which Windows reports as a
 * tampered file; Node's SEA guide removes it with signtool first) and makes the version resource say mailroot,
 * so Explorer's Details tab and Task Manager show mailroot, with Node's version kept in the comments.
 */
import * as ResEdit from 'resedit';

export function asMailrootExe(nodeExe: Buffer, version: string, nodeVersion: string): Buffer {
  const exe = ResEdit.NtExecutable.from(nodeExe, { ignoreCert: true }); // generate() writes no certificate
  const resources = ResEdit.NtExecutableResource.from(exe);
  const [info] = ResEdit.Resource.VersionInfo.fromEntries(resources.entries);
  if (!info) throw new Error('node.exe has no version resource');
  const [major = 0, minor = 0, patch = 0] = version.split(/[.+-]/).map(Number);
  info.setFileVersion(major, minor, patch, 0);
  info.setProductVersion(major, minor, patch, 0);
  for (const language of info.getAllLanguagesForStringValues()) {
    info.setStringValues(language, {
      CompanyName: 'mailroot',
      ProductName: 'mailroot',
      FileDescription: 'mailroot SMTP relay',
      FileVersion: version,
      ProductVersion: version,
      OriginalFilename: 'mailroot.exe',
      InternalName: 'mailroot',
      Comments: `Node.js ${nodeVersion} inside`,
    });
  }
  info.outputToResourceEntries(resources.entries);
  resources.outputResource(exe);
  return Buffer.from(exe.generate());
}

/** What asMailrootExe promises, read back from a finished exe: no certificate, and mailroot's version resource. */
export function describeMailrootExe(file: Buffer): { signed: boolean; product: string | undefined; version: string | undefined } {
  const exe = ResEdit.NtExecutable.from(file);
  const signed = exe.newHeader.optionalHeaderDataDirectory.get(CERTIFICATE_DIRECTORY).size !== 0;
  const [info] = ResEdit.Resource.VersionInfo.fromEntries(ResEdit.NtExecutableResource.from(exe).entries);
  const [language] = info?.getAllLanguagesForStringValues() ?? [];
  const values = info && language ? info.getStringValues(language) : {};
  return { signed, product: values.ProductName, version: values.FileVersion };
}

const CERTIFICATE_DIRECTORY = 4; // IMAGE_DIRECTORY_ENTRY_SECURITY
