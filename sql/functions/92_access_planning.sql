-- Row-level security for beat planning (migration 016): a plan's changes are read by the
-- station's roles and written by planners and leaders (app_writer), like the plans themselves.

CALL app_protect('plan_change', 'INSERT', 'app_writer()', NULL, false);
