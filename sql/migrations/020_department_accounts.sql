-- Department accounts (issue 14 §5, 部门报到): a town department, the station or the response
-- team signs in and answers the reports routed to it itself, instead of the command room or a
-- leader recording its steps for it. A user of the role department belongs to one department
-- (app_user.department_id); app_enter gives them their department's reports and nothing else
-- of the station's data (sql/functions/15_accounts.sql, 93_access_field.sql).

ALTER TABLE app_user DROP CONSTRAINT app_user_role_check;
ALTER TABLE app_user ADD CONSTRAINT app_user_role_check
    CHECK (role IN ('leader', 'command_room', 'planner', 'community_officer', 'grid_worker',
                    'volunteer', 'department', 'auditor', 'admin'));

-- the department whose reports the user answers: set for a department user, for no one else
ALTER TABLE app_user ADD COLUMN department_id int REFERENCES department (id);
ALTER TABLE app_user ADD CONSTRAINT app_user_department_check
    CHECK ((role = 'department') = (department_id IS NOT NULL));
