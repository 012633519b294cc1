-- A one-time-code secret being enrolled: made when the user asks to enrol on their account page,
-- kept with their browser session (server-side, never in the page's form) until they confirm it
-- with a code; then it moves to app_user.totp_secret and this is cleared. A session that ends
-- takes its pending secret with it. The service's existing grants on user_session cover it.
ALTER TABLE user_session ADD COLUMN pending_totp_secret text;
