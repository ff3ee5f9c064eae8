// Starts GOV.UK Frontend's components. Loaded as a module from /assets so that the
// Content Security Policy needs no 'unsafe-inline'.
import { initAll } from './govuk-frontend.min.js'

initAll()

// "Print this page" under a report's record: hidden until JavaScript can open the print dialogue.
for (const button of document.querySelectorAll('[data-module="app-print-button"]')) {
  button.hidden = false
  button.addEventListener('click', () => window.print())
}
