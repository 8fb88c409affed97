// Bundles the test app (main.jsx) with esbuild into OUTDIR/app.js, beside index.html.
// The guide's component is used as copied: the bundle gives it the OnboardingFlow it
// names and exports its MyComponent (the snippet declares it without an export).
//   node build.mjs OUTDIR
import { build } from 'esbuild';
import { copyFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
const guideComponent = {
	name: 'guide-component',
	setup(b) {
		b.onLoad({ filter: /guide[\\/]component\.jsx$/ }, (args) => ({
			loader: 'jsx',
			contents: `import { OnboardingFlow } from ${JSON.stringify(join(here, 'onboarding-flow.jsx'))};\n` +
				readFileSync(args.path, 'utf8') + '\nexport { MyComponent };\n',
		}));
	},
};
await build({
	entryPoints: [join(here, 'main.jsx')],
	bundle: true,
	format: 'esm',
	jsx: 'automatic',
	define: { 'process.env.NODE_ENV': '"development"' },
	outfile: join(out, 'app.js'),
	plugins: [guideComponent],
	logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
