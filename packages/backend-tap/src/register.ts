// Importing the package registers the `tap` prefix in the default registry.
import { registerTapBackend } from './factory';

registerTapBackend();
