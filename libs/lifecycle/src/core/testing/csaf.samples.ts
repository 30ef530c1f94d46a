/**
 * CSAF 2.0 documents written from the specification's examples (OASIS CSAF 2.0, sections 3.1-3.2
 * and appendix examples: product tree with vendor / product_name / product_version branches,
 * product_identification_helper with cpe and purl, product_status, CVSS v3.1 scores), for tests.
 */
export interface AdvisoryTarget {
  vendor: string;
  product: string;
  affectedVersions: string[];
  fixedVersion: string;
  purl?: string;
  cpeVendor?: string;
}

export function csafAdvisory(opts: { trackingId?: string; cve?: string; target?: AdvisoryTarget; category?: 'csaf_security_advisory' | 'csaf_vex' } = {}): Record<string, any> {
  const t = opts.target ?? { vendor: 'Example Company', product: 'Cool Product', affectedVersions: ['2.0.0'], fixedVersion: '2.1.0' };
  const cve = opts.cve ?? 'CVE-2018-0001';
  const versions = [...t.affectedVersions, t.fixedVersion];
  const pid = (v: string) => `CSAFPID-${String(versions.indexOf(v) + 1).padStart(4, '0')}`;
  const now = '2024-01-24T10:00:00.000Z';
  return {
    document: {
      category: opts.category ?? 'csaf_security_advisory',
      csaf_version: '2.0',
      publisher: { category: 'vendor', name: t.vendor, namespace: 'https://www.example.com' },
      title: `${t.product}: buffer overflow in the packet parser`,
      tracking: {
        id: opts.trackingId ?? 'Example-2024-0001',
        status: 'final',
        version: '1',
        initial_release_date: now,
        current_release_date: now,
        revision_history: [{ date: now, number: '1', summary: 'Initial version.' }],
      },
      notes: [{ category: 'summary', text: 'A crafted packet overflows a buffer in the parser.', title: 'Summary' }],
      references: [{ category: 'external', summary: 'The vendor page', url: 'https://www.example.com/security/advisories/2024-0001' }],
      lang: 'en',
    },
    product_tree: {
      branches: [
        {
          category: 'vendor',
          name: t.vendor,
          branches: [
            {
              category: 'product_name',
              name: t.product,
              branches: versions.map((v) => ({
                category: 'product_version',
                name: v,
                product: {
                  name: `${t.vendor} ${t.product} ${v}`,
                  product_id: pid(v),
                  ...(t.purl || t.cpeVendor
                    ? {
                        product_identification_helper: {
                          ...(t.purl ? { purl: `${t.purl}@${v}` } : {}),
                          ...(t.cpeVendor ? { cpe: `cpe:2.3:a:${t.cpeVendor}:${t.product.toLowerCase().replace(/\W+/g, '_')}:${v}:*:*:*:*:*:*:*` } : {}),
                        },
                      }
                    : {}),
                },
              })),
            },
          ],
        },
      ],
    },
    vulnerabilities: [
      {
        cve,
        title: 'Buffer overflow in the packet parser',
        notes: [{ category: 'description', text: 'A length field is trusted.', title: 'Description' }],
        product_status: {
          ...(opts.category === 'csaf_vex' ? {} : {}),
          known_affected: t.affectedVersions.map(pid),
          fixed: [pid(t.fixedVersion)],
        },
        scores: [
          {
            products: t.affectedVersions.map(pid),
            cvss_v3: { version: '3.1', vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', baseScore: 9.8, baseSeverity: 'CRITICAL' },
          },
        ],
        remediations: [{ category: 'vendor_fix', details: `Update to ${t.fixedVersion}.`, product_ids: t.affectedVersions.map(pid) }],
      },
    ],
  };
}
