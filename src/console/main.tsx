import { render } from 'preact';
import { App } from './app.tsx';
import './styles.css';
import { applyStoredTheme } from './ui/theme.tsx';

applyStoredTheme();
render(<App />, document.getElementById('app')!);
